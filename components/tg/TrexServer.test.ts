// TrexServer's resource graph under Pulumi's mocks: three steps (NIC binding, install, server)
// with teardowns and drift probes, the server built on the other two, trex_cfg.yaml carrying the
// MACs nic-bind reported, and the outputs (rpcHost/rpcPort, pid). No engine, no host.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import type { Host, TrexOptions } from "../../lib/lab";
import { scriptCall } from "../../tests/support/graphMocks";

interface Rec {
  name: string;
  inputs: Record<string, unknown>;
}
const recs: Rec[] = [];

before(async () => {
  await pulumi.runtime.setMocks(
    {
      call: () => ({}),
      newResource: (args) => {
        const inputs = Object.fromEntries(
          Object.entries(args.inputs as Record<string, unknown>).map(([k, v]) => [
            k,
            pulumi.runtime.unwrapRpcSecret(v),
          ]),
        );
        recs.push({ name: args.name, inputs });
        const call = scriptCall(String(inputs["create"] ?? ""));
        const out =
          call?.script === "nic-bind.sh"
            ? {
                devices: [
                  { pci: "0000:3b:00.0", mac: "3c:fd:fe:00:00:01", driver: "vfio-pci", original: "i40e" },
                  { pci: "0000:3b:00.1", mac: "3c:fd:fe:00:00:02", driver: "vfio-pci", original: "i40e" },
                ],
              }
            : call?.args[0] === "start"
              ? { action: "start", pid: 4242, startTime: "123" }
              : { action: call?.args[0] ?? "?" };
        return {
          id: `${args.name}-id`,
          state: { ...inputs, stdout: JSON.stringify(out) + "\n", stderr: "" },
        };
      },
    },
    "vhost-perf-lab",
    "perf",
    false,
  );
});

const value = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((res) => o.apply((v) => (res(v), v)));

const OPTIONS: TrexOptions = {
  version: "3.03",
  installDir: "/opt/trex-core",
  limitMemoryMiB: 4096,
  mbufFactor: 32,
  workers: 4,
};
const HOST: Host = {
  name: "tg1",
  roles: ["tg"],
  ssh: {
    host: "192.0.2.12",
    port: 22,
    user: "root",
    privateKey: { kind: "file", path: "/k" },
    hostKey: { kind: "key", key: "ssh-ed25519 AAAA" },
    managed: false,
  },
  numaNode: 0,
  cpus: {
    count: 32,
    threadsPerCore: 1,
    housekeeping: [0],
    vswitchMain: undefined,
    vswitch: [],
    vms: [],
    tg: [1, 2, 3, 4, 5, 6],
    shared: false,
  },
  hugepages: { size: "1G", count: 8 },
  nics: [
    {
      kind: "pci",
      name: "port0",
      pci: "0000:3b:00.0",
      model: "x710",
      speedGbps: 10,
      driver: "vfio-pci",
      mtu: 9200,
    },
    {
      kind: "pci",
      name: "port1",
      pci: "0000:3b:00.1",
      model: "x710",
      speedGbps: 10,
      driver: "vfio-pci",
      mtu: 9200,
    },
  ],
};

test("TrexServer: nic-bind, install and server steps with teardowns and probes; cfg from the reported MACs; outputs", async () => {
  const { TrexServer } = await import("./TrexServer");
  const trex = new TrexServer("tg1-trex", {
    connection: { host: "192.0.2.12", user: "root" },
    host: HOST,
    options: OPTIONS,
    stack: "perf",
    tarball: { url: "https://example.invalid/v3.03.tar.gz", sha256: "a".repeat(64) },
    after: ["lab-dirs-token"],
  });
  assert.equal(await value(trex.pid), 4242);
  assert.equal(await value(trex.rpcHost), "192.0.2.12");
  assert.equal(trex.rpcPort, 4501);
  const cfg = await value(trex.cfg);
  assert.match(cfg, /- dest_mac: "3c:fd:fe:00:00:02"\n {6}src_mac: "3c:fd:fe:00:00:01"/);
  await value(trex.token);

  const by = (n: string) => recs.find((r) => r.name === n)!;
  const steps = ["tg1-trex-nics", "tg1-trex-install", "tg1-trex-server"].map(by);
  for (const s of steps) {
    assert.ok(s, "step registered");
    assert.match(String(s.inputs["delete"]), /'down'/, `${s.name} has a teardown`);
    const env = s.inputs["environment"] as Record<string, string>;
    assert.match(env["PULUMI_COMMAND_READ"] ?? "", /probe/, `${s.name} has a drift probe`);
  }
  const [nics, install, server] = steps as [Rec, Rec, Rec];
  assert.equal(
    (nics.inputs["environment"] as Record<string, string>)["NIC_BIND"],
    "0000:3b:00.0=vfio-pci,0000:3b:00.1=vfio-pci",
  );
  const ienv = install.inputs["environment"] as Record<string, string>;
  assert.deepEqual(
    [ienv["TREX_TARBALL_URL"], ienv["TREX_TARBALL_SHA256"]],
    ["https://example.invalid/v3.03.tar.gz", "a".repeat(64)],
  );
  const senv = server.inputs["environment"] as Record<string, string>;
  assert.equal(Buffer.from(senv["TREX_CFG_B64"]!, "base64").toString("utf8"), cfg);
  assert.deepEqual(
    [senv["TREX_PREFIX"], senv["TREX_MBUF_FACTOR"], senv["TREX_SOFTWARE"]],
    ["vpl-perf", "32", "0"],
  );
  // the server builds on the binding and the install: their tokens are among its triggers
  const triggers = server.inputs["triggers"] as string[];
  assert.ok(triggers.includes("lab-dirs-token"));
  assert.ok(
    triggers.length >= (install.inputs["triggers"] as string[]).length + 2,
    "nics and install tokens",
  );
});

test("TrexServer refuses at construction: too many workers for cpus.tg, veth ports without MACs", async () => {
  const { TrexServer } = await import("./TrexServer");
  assert.throws(
    () =>
      new TrexServer("bad", {
        connection: { host: "h" },
        host: HOST,
        options: { ...OPTIONS, workers: 8 },
        stack: "perf",
      }),
    /tg\.options\.workers/,
  );
  const veth: Host = {
    ...HOST,
    nics: [
      { kind: "veth", name: "port0", ifname: "a0", peer: "b0", netns: "n", mtu: 1500 },
      { kind: "veth", name: "port1", ifname: "a1", peer: "b1", netns: "n", mtu: 1500 },
    ],
  };
  assert.throws(
    () => new TrexServer("sw", { connection: { host: "h" }, host: veth, options: OPTIONS, stack: "perf" }),
    /software mode\) needs the ports' MACs/,
  );
});
