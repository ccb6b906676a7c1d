/** The shipped stack files, stack-file reading, and the lab-check command end to end. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { formatErrors } from "./errors";
import { expandMatrix } from "./names";
import { parseLab } from "./parse";
import { loadStackFile, parseStackText, splitPath } from "./stackfile";
import { csitConfig, HOST_KEY_1, repoRoot } from "./testutil";
import { NAMESPACE } from "./errors";
import { stringify } from "yaml";
import type { Lab } from "./types";

const root = repoRoot();

function shipped(name: string): Lab {
  const stack = loadStackFile(join(root, name));
  assert.deepEqual(stack.errors, []);
  const r = parseLab(stack.config, name, { requireEncryptedSecrets: true });
  if (!r.ok) assert.fail(formatErrors(r.errors, { source: name, locate: stack.locate }));
  return r.lab;
}

describe("shipped stack files", () => {
  it("Pulumi.perf.yaml: a 2-node CSIT lab, one DUT with an X710 and a TRex TG", () => {
    const lab = shipped("Pulumi.perf.yaml");
    assert.equal(lab.profile, "csit");
    assert.deepEqual(
      lab.hosts.map((h) => [h.name, h.roles]),
      [
        ["dut1", ["dut"]],
        ["tg1", ["tg"]],
      ],
    );
    const nic = lab.hosts[0]?.nics[0];
    assert.ok(nic?.kind === "pci" && nic.model === "x710");
    assert.equal(lab.tg.kind, "trex");
    assert.equal(lab.qemu.accel, "kvm");
    const names = expandMatrix(lab).map((c) => c.name);
    assert.equal(names.length, 16);
    assert.ok(names.includes("64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-cfsrr1-mrr"));
    assert.ok(names.includes("imix-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-ndrpdr"));
  });

  it("Pulumi.local.yaml: a 2-node lab on this machine (DUT + TG host in a netns), testpmd, trafgen, TCG-capable QEMU 7.2", () => {
    const lab = shipped("Pulumi.local.yaml");
    assert.equal(lab.profile, "local");
    const h = lab.hosts[0];
    assert.deepEqual(h?.roles, ["dut"]);
    const tg = lab.hosts.find((x) => x.name === lab.tg.host);
    assert.deepEqual(tg?.roles, ["tg"]);
    assert.equal(tg?.ssh.managed, true);
    assert.equal(tg?.ssh.netns, "gen", "the TG host is the netns holding the DUT's veth peers");
    assert.ok(h?.nics.every((n) => n.kind === "veth" && n.netns === "gen"));
    assert.equal(h?.cpus.count, 2);
    assert.equal(h?.ssh.managed, true);
    assert.deepEqual(h?.cpus.housekeeping, [0]);
    // cfsrr1 is in the matrix and no RR poller runs on the housekeeping CPU
    assert.ok(lab.matrix.cfsPolicies.includes("cfsrr1"));
    assert.ok(![...(h?.cpus.vswitch ?? []), ...(h?.cpus.vms.flat() ?? [])].includes(0));
    assert.equal(lab.vswitch.kind, "testpmd");
    assert.equal(lab.tg.kind, "trafgen");
    assert.equal(lab.qemu.source.kind, "debian");
    assert.equal(lab.qemu.patchDir, "patches/qemu-7.2");
    assert.notEqual(lab.qemu.accel, "kvm");
    assert.equal(lab.hosts[0]?.hugepages.size, "2M");
    assert.equal(lab.vms.count, 1);
    assert.equal(lab.vms.vcpus, 2);
  });

  it("Pulumi.local-ovs.yaml: the local lab with OVS-DPDK, on resources of its own", () => {
    const lab = shipped("Pulumi.local-ovs.yaml");
    const local = shipped("Pulumi.local.yaml");
    assert.deepEqual(lab.vswitch, { kind: "ovs-dpdk", memoryMiB: 512, options: { rxQueues: 1 } });
    const [h, l] = [lab.hosts[0]!, local.hosts[0]!];
    assert.equal(h.ssh.port, 2041);
    assert.equal(lab.tg.host, "genovs");
    const tg = lab.hosts.find((x) => x.name === lab.tg.host)!;
    assert.deepEqual([tg.ssh.host, tg.ssh.netns], ["10.250.41.2", "genovs"]);
    assert.deepEqual(
      h.nics.map((n) => (n.kind === "veth" ? [n.ifname, n.peer, n.netns] : [])),
      [
        ["ovs0", "ovg0", "genovs"],
        ["ovs1", "ovg1", "genovs"],
      ],
    );
    // nothing shared with the local stack's resources
    assert.notEqual(h.ssh.port, l.ssh.port);
    const ifs = (x: Lab): string[] =>
      x.hosts[0]!.nics.flatMap((n) => (n.kind === "veth" ? [n.ifname, n.peer] : []));
    assert.deepEqual(
      ifs(lab).filter((i) => ifs(local).includes(i)),
      [],
    );
    // the rest is the local lab's
    assert.deepEqual(h.cpus, l.cpus);
    assert.deepEqual(lab.matrix, local.matrix);
  });

  it("ovs-dpdk options: errors name the config path", () => {
    const text = readFileSync(join(repoRoot(), "Pulumi.local-ovs.yaml"), "utf8").replace(
      "rxQueues: 1",
      "rxQueues: 0\n      forwardMode: io",
    );
    const r = parseLab(parseStackText(text, "Pulumi.local-ovs.yaml").config, "Pulumi.local-ovs.yaml");
    assert.equal(r.ok, false);
    const text2 = r.ok ? "" : formatErrors(r.errors);
    assert.match(text2, /vhost-perf-lab:vswitch\.options\.rxQueues/);
    assert.match(text2, /vhost-perf-lab:vswitch\.options\.forwardMode/);
    assert.match(text2, /an option of testpmd/);
  });
});

describe("stack file reading", () => {
  it("reports YAML syntax errors and duplicate keys with file:line:col", () => {
    const dup = parseStackText(
      "config:\n  vhost-perf-lab:vms: {count: 1}\n  vhost-perf-lab:vms: {count: 2}\n",
      "d.yaml",
    );
    assert.equal(dup.errors.length, 1);
    assert.match(dup.errors[0]?.path ?? "", /^d\.yaml:3:\d+$/);
    assert.match(dup.errors[0]?.hint ?? "", /remove one/);
    const bad = parseStackText("config:\n  vhost-perf-lab:vms: [1, 2\n", "b.yaml");
    assert.ok(bad.errors.length > 0);
    assert.equal(bad.errors[0]?.expected, "valid YAML");
  });

  it("keeps this project's keys, ignores other namespaces, flags a misspelt namespace", () => {
    const s = parseStackText(
      "config:\n  aws:region: eu-west-1\n  vhost-perf-lab:tg: {kind: trex}\n  vhost-perf-labs:matrix: {}\n  hosts: []\n",
      "n.yaml",
    );
    assert.deepEqual(s.config, { tg: { kind: "trex" } });
    assert.deepEqual(
      s.errors.map((e) => [e.path, e.hint]),
      [
        ["vhost-perf-labs:matrix", 'did you mean "vhost-perf-lab:matrix"?'],
        ["hosts", "write vhost-perf-lab:hosts"],
      ],
    );
  });

  it("needs a config: map", () => {
    assert.equal(
      parseStackText("encryptionsalt: x\n", "e.yaml").errors[0]?.expected,
      "a config: map with vhost-perf-lab:* keys",
    );
    assert.equal(parseStackText("- a\n", "l.yaml").errors.length, 1);
    assert.equal(loadStackFile(join(root, "no-such-stack.yaml")).errors[0]?.found, "ENOENT");
  });

  it("locates config paths on their lines", () => {
    const file = join(root, "Pulumi.perf.yaml");
    const lines = readFileSync(file, "utf8").split("\n");
    const { locate } = loadStackFile(file);
    const line = (p: string) => lines[(locate(p) ?? 0) - 1] ?? "";
    assert.match(line("vhost-perf-lab:hosts[0].cpus.vswitch"), /^\s+vswitch: "2"/);
    assert.match(line("vhost-perf-lab:hosts[1].nics[0].pci"), /pci: "0000:3b:00.0"/);
    assert.match(line("vhost-perf-lab:matrix.ndrpdr.timeLimitS"), /timeLimitS: 1200/);
    // a missing key points at its nearest parent
    assert.match(line("vhost-perf-lab:hosts[1].ssh.port"), /^\s+ssh:/);
  });

  it("splits config paths like pulumi config --path", () => {
    assert.deepEqual(splitPath("vhost-perf-lab:hosts[0].cpus.vms[1]"), [
      "vhost-perf-lab:hosts",
      0,
      "cpus",
      "vms",
      1,
    ]);
    assert.deepEqual(splitPath('vhost-perf-lab:vms["odd key"]'), ["vhost-perf-lab:vms", "odd key"]);
  });
});

describe("lab-check command", () => {
  // compiled beside this file: <out>/lib/lab/x.test.js -> <out>/bin/lab-check.js
  const bin = join(__dirname, "..", "..", "bin", "lab-check.js");
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: "utf8" });

  it("is built", () => assert.ok(existsSync(bin), bin));

  it("prints a summary and exits 0 for both shipped files", () => {
    const r = run("Pulumi.perf.yaml", "Pulumi.local.yaml");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /lab perf \(profile csit\) from Pulumi\.perf\.yaml: valid/);
    assert.match(r.stdout, /dut1 {2}32 cpus: housekeeping 0 \| vswitch main 1, workers 2 \(1c\) \| vm1 3-5/);
    assert.match(r.stdout, /16 x 1G = 16384 MiB; needed 5120 MiB/);
    assert.match(r.stdout, /64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-cfsrr1-mrr/);
    assert.match(r.stdout, /lab local \(profile local\)/);
    assert.match(r.stdout, /stack {5}local \(its run dir on the hosts: \/run\/vhost-perf-lab\/local\)/);
    assert.match(
      r.stdout,
      /sockets \/run\/vhost-perf-lab\/local\/vhu-1-1\.sock \/run\/vhost-perf-lab\/local\/vhu-1-2\.sock/,
    );
    assert.ok(!/cisco\b.*cisco/.test(r.stdout.replace(/guest user cisco/g, "")), "guest password printed");
  });

  it("exits 1 with every error, its path and line, on stderr", () => {
    const dir = join("lib", "lab", "testdata", "invalid");
    const file = readdirSync(join(root, dir)).find((f) => f.endsWith("-cfsrr1-no-housekeeping-left.yaml"));
    assert.ok(file);
    const r = run(join(dir, file));
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /3 errors in the lab config/);
    assert.match(r.stderr, /vhost-perf-lab:hosts\[0\]\.cpus\.vms\[0\] \(line \d+\)/);
    assert.match(r.stderr, /SCHED_RR busy pollers on every core starve the machine/);
  });

  it("reads a hostKey.file and holds it to the same public-key-line rule (exit 1 when it is not one)", () => {
    const dir = mkdtempSync(join(tmpdir(), "lab-check-"));
    try {
      const c = csitConfig();
      const h = (c.hosts as Record<string, Record<string, unknown>>[])[0] as Record<
        string,
        Record<string, unknown>
      >;
      h.ssh = { ...h.ssh, hostKey: { file: "dut1.pub" } };
      const config = Object.fromEntries(Object.entries(c).map(([k, v]) => [`${NAMESPACE}:${k}`, v]));
      const stack = join(dir, "Pulumi.keys.yaml");
      writeFileSync(stack, stringify({ config }));
      writeFileSync(join(dir, "dut1.pub"), `192.0.2.11 ${HOST_KEY_1}\n`);
      const bad = run(stack);
      assert.equal(bad.status, 1, bad.stdout);
      assert.match(bad.stderr, /vhost-perf-lab:hosts\[0\]\.ssh\.hostKey\.file/);
      assert.match(bad.stderr, /dut1\.pub: a known_hosts line/);
      assert.match(bad.stderr, /ssh-keyscan -t ed25519 -p 22 192\.0\.2\.11 \| cut -d' ' -f2-/);
      writeFileSync(join(dir, "dut1.pub"), `${HOST_KEY_1} root@dut1\n`);
      const good = run(stack);
      assert.equal(good.status, 0, good.stderr);
      assert.match(good.stdout, /host key from dut1\.pub/);
      rmSync(join(dir, "dut1.pub"));
      const missing = run(stack);
      assert.equal(missing.status, 0, missing.stderr);
      assert.match(
        missing.stdout,
        /warning: vhost-perf-lab:hosts\[0\]\.ssh\.hostKey\.file: dut1\.pub does not exist/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exits 1 for a missing file and 2 for no arguments", () => {
    assert.equal(run("nope.yaml").status, 1);
    const none = run();
    assert.equal(none.status, 2);
    assert.match(none.stderr, /usage: lab-check/);
  });
});
