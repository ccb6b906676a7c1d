// VppVswitch's resource graph under Pulumi's mocks: three steps (NIC binding, install, VPP) with
// teardowns and drift probes, the VPP step built on the other two, startup.conf and the wiring
// as the TypeScript generators make them, the install source in the install step only, the bench
// hooks, and refusals at construction. No engine, no host.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import type { Vswitch } from "../../../lib/lab";
import { scriptCall } from "../../../tests/support/graphMocks";

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
          call?.script === "vswitch-vpp.sh" && call.args[0] === "start"
            ? {
                action: "start",
                kind: "vpp",
                pid: 4343,
                workerTids: [4350],
                rings: [{ socket: "/run/vpp/sock-1-1", interface: "VirtualEthernet0/0/0", connected: false }],
              }
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

const CONFIG: Vswitch = {
  kind: "vpp",
  memoryMiB: 1024,
  options: {
    mode: "l2xc",
    buffers: 16384,
    rxQueues: 1,
    uioDriver: "vfio-pci",
    version: "24.10-release",
    install: {
      kind: "repository",
      url: "https://packagecloud.io/fdio/2410/debian",
      suite: "bookworm",
      component: "main",
      keyUrl: "https://packagecloud.io/fdio/2410/gpgkey",
      keyFingerprint: "0123456789ABCDEF0123456789ABCDEF01234567",
    },
    noMultiSeg: true,
  },
};
const ARGS = {
  connection: { host: "192.0.2.11", user: "root" },
  config: CONFIG,
  mainCore: 1,
  workerCores: [2],
  nicPorts: [
    { kind: "pci" as const, pciAddress: "0000:18:00.0" },
    { kind: "pci" as const, pciAddress: "0000:18:00.1" },
  ],
  vhostSockets: ["/run/vpp/sock-1-1", "/run/vpp/sock-1-2"],
  queues: 1,
  ringSize: 1024,
  maxFrame: 1518,
  hugepagesMount: "/dev/hugepages",
  after: ["hugepages-token"],
};

test("VppVswitch: nic-bind, install and VPP steps with teardowns and probes; config, wiring, status, bench hooks", async () => {
  const { VppVswitch } = await import("./VppVswitch");
  const sw = new VppVswitch("dut1-vswitch", ARGS);
  const status = await value(sw.status);
  assert.deepEqual([status.kind, status.pid, status.workerTids], ["vpp", 4343, [4350]]);
  await value(sw.token);
  assert.deepEqual(sw.bench, {
    workerThreadPattern: "^vpp_wk_\\d+$",
    counters: { kind: "vpp", cliSocket: "/run/vhost-perf-lab/perf/dut1-vswitch/cli.sock" },
  });
  assert.ok(new RegExp(sw.bench.workerThreadPattern).test("vpp_wk_0"));

  const by = (n: string) => recs.find((r) => r.name === n)!;
  const steps = ["dut1-vswitch-vpp-nics", "dut1-vswitch-vpp-install", "dut1-vswitch-vpp"].map(by);
  for (const s of steps) {
    assert.ok(s, "step registered");
    assert.match(String(s.inputs["delete"]), /'down'/, `${s.name} has a teardown`);
    assert.match((s.inputs["environment"] as Record<string, string>)["PULUMI_COMMAND_READ"] ?? "", /probe/);
  }
  const [nics, install, vpp] = steps as [Rec, Rec, Rec];
  const env = (r: Rec) => r.inputs["environment"] as Record<string, string>;
  assert.equal(env(nics)["NIC_BIND"], "0000:18:00.0=vfio-pci,0000:18:00.1=vfio-pci");
  assert.deepEqual(
    ["VPP_VERSION", "VPP_INSTALL", "VPP_REPO_URL", "VPP_KEY_FPR"].map((k) => env(install)[k]),
    [
      "24.10-release",
      "repository",
      "https://packagecloud.io/fdio/2410/debian",
      "0123456789ABCDEF0123456789ABCDEF01234567",
    ],
  );
  const venv = env(vpp);
  assert.equal(venv["VPP_REPO_URL"], undefined, "the install source changes the install step only");
  assert.equal(venv["VPP_DIR"], "/run/vhost-perf-lab/perf/dut1-vswitch");
  const conf = Buffer.from(venv["VPP_STARTUP_B64"]!, "base64").toString("utf8");
  assert.equal(conf, sw.startupConf);
  assert.match(conf, /cli-listen \/run\/vhost-perf-lab\/perf\/dut1-vswitch\/cli\.sock\n/);
  assert.match(conf, /dev 0000:18:00\.1 \{\n {4}name port1\n {4}num-rx-queues 1\n/);
  assert.match(conf, /main-core 1\n {2}corelist-workers 2\n/);
  const wiring = Buffer.from(venv["VPP_WIRING_B64"]!, "base64").toString("utf8").trim().split("\n");
  assert.equal(wiring[0], "VirtualEthernet0/0/0\tcreate vhost-user socket /run/vpp/sock-1-1");
  assert.ok(wiring.includes("\tset interface l2 xconnect port1 VirtualEthernet0/0/1"));
  // VPP builds on the binding and the install: their tokens are among its triggers
  const triggers = vpp.inputs["triggers"] as string[];
  assert.ok(triggers.includes("hugepages-token"));
  assert.ok(
    triggers.length >= (install.inputs["triggers"] as string[]).length + 2,
    "nics and install tokens",
  );
});

test("VppVswitch: bindNics false leaves the binding to another step; refusals at construction", async () => {
  const { VppVswitch } = await import("./VppVswitch");
  const before = recs.length;
  new VppVswitch("dut2-vswitch", {
    ...ARGS,
    bindNics: false,
    config: { ...CONFIG, options: { ...CONFIG.options, install: { kind: "preinstalled" } } },
  });
  await new Promise((r) => setTimeout(r, 50));
  const names = recs.slice(before).map((r) => r.name);
  assert.ok(!names.includes("dut2-vswitch-vpp-nics"));
  const inst = recs.find((r) => r.name === "dut2-vswitch-vpp-install")!;
  assert.equal((inst.inputs["environment"] as Record<string, string>)["VPP_INSTALL"], "preinstalled");
  assert.throws(
    () =>
      new VppVswitch("x", {
        ...ARGS,
        config: {
          kind: "testpmd",
          memoryMiB: 512,
          options: { forwardMode: "io", burst: 64, rxd: 1024, txd: 1024, mbufs: 16384 },
        },
      }),
    /not vpp/,
  );
  assert.throws(
    () =>
      new VppVswitch("y", { ...ARGS, nicPorts: [{ kind: "af_packet", ifname: "sw0" }, ARGS.nicPorts[1]!] }),
    /VPP takes PCI ports/,
  );
  assert.throws(() => new VppVswitch("z", { ...ARGS, workerCores: [1] }), /main core 1 is also a worker/);
  assert.throws(
    () => new VppVswitch("w", { ...ARGS, vhostSockets: ["/run/vpp/a b", "/run/vpp/c"] }),
    /not a vhost-user socket/,
  );
});
