// The resource graph of the real program (index.ts) under Pulumi's mocks: the shipped local
// stack's config, every command answered with the JSON its script prints
// (tests/support/graphMocks.ts). No engine, no host is touched. Each test asserts one invariant
// of what `pulumi up` would register: teardowns, parents, secrets, ordering, stack outputs, the
// perf lab's early refusal, and the tuning steps of tuning.apply.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import {
  FAKE_HOST_KEY,
  FAKE_PRIVATE_KEY,
  MOCK_IMAGE_SHA256,
  MOCK_MRR_PPS,
  MOCK_NDR_PPS,
  MOCK_PDR_PPS,
  MOCK_QEMU_VERSION,
  MOCK_VM_PID_BASE,
  resolved,
  runProgram,
  scriptCall,
  stepOf,
  type ProgramRun,
  type RecordedResource,
  type ResourceGraph,
  factsOverride,
} from "./support/graphMocks";
import { repoRoot } from "./support/repo";
import { parsePlan } from "../lib/bench/plan";

/**
 * Commands without a teardown, by what they run, and why that is right. A new step that
 * changes a host and has no `delete` is not listed here, so the teardown test fails for it.
 */
const NO_TEARDOWN: Record<string, string> = {
  "dut-facts.sh": "read-only: reads /proc and /sys (the host's facts)",
  "guest-image/build.sh":
    "writes only the DUT's image cache, keyed by content and kept on destroy by design (README: build caches stay); the deployed image has its own teardown (guest-image/deploy.sh)",
  "pin-threads.sh": "changes only the CPU affinity of the VM's threads, which end with the VM (vm.sh stop)",
  "bench-runner.ts": "measures; applies cfsrr1 per cell and reverts it itself before the next cell",
};

/** The runtime tuning steps of a DUT, in the order DutHost chains them. */
const TUNING_STEPS = ["dut-hugepages.sh", "dut-sysctl.sh", "dut-irq-affinity.sh", "dut-cpufreq.sh"];

const PATCHES = fs
  .readdirSync(path.join(repoRoot(), "patches", "qemu-7.2"))
  .filter((f) => f.endsWith(".patch"))
  .sort();

type Values<T> = { [K in keyof T]: T[K] extends pulumi.Output<infer V> ? V : T[K] };
type Outputs = Values<Pick<ProgramRun["program"], "labName" | "hosts" | "results" | "throughput">>;

/** The shipped local stack, run once; its graph and outputs serve the tests below. */
let local: { graph: ResourceGraph; outputs: Outputs; secret: Record<string, boolean> };

before(async () => {
  const run = await runProgram({ stackFile: "Pulumi.local.yaml", stack: "local" });
  const [hosts, results, throughput] = await Promise.all([
    resolved(run.program.hosts),
    resolved(run.program.results),
    resolved(run.program.throughput),
  ]);
  local = {
    graph: run.graph,
    outputs: {
      labName: run.program.labName,
      hosts: hosts.value,
      results: results.value,
      throughput: throughput.value,
    },
    secret: { hosts: hosts.secret, results: results.secret, throughput: throughput.secret },
  };
});

const names = (rs: RecordedResource[]): string[] => rs.map((r) => r.name);

/** The commands running a step (a script under scripts/, or a local command's name in stepOf). */
function steps(graph: ResourceGraph, step: string): RecordedResource[] {
  return graph.commands().filter((r) => stepOf(r) === step);
}

function oneStep(graph: ResourceGraph, step: string): RecordedResource {
  const found = steps(graph, step);
  assert.equal(found.length, 1, `one command runs ${step}, found: ${names(found).join(", ") || "none"}`);
  return found[0]!;
}

/** A DUT's runtime tuning steps in registration order. */
function tuningChain(graph: ResourceGraph): RecordedResource[] {
  return graph.commands().filter((r) => TUNING_STEPS.includes(stepOf(r)));
}

/** The lab-dirs step, then each tuning step directly after the one before (destroy reverts in reverse). */
function assertChainedAfterDirs(graph: ResourceGraph): void {
  const links = [oneStep(graph, "lab-dirs.sh"), ...tuningChain(graph)];
  links.slice(1).forEach((step, i) => {
    const previous = links[i]!;
    assert.ok(
      graph.dependsDirectly(step, previous),
      `${step.name} does not follow ${previous.name} directly`,
    );
  });
}

test("1. every command that changes a host has a teardown (exceptions listed with their reason)", () => {
  const commands = local.graph.commands();
  assert.ok(commands.length > 0, "the program registered no command");
  const missing: string[] = [];
  for (const r of commands) {
    const step = stepOf(r);
    const teardown = r.inputs["delete"];
    if (step in NO_TEARDOWN) {
      assert.equal(
        teardown,
        undefined,
        `${r.name} (${step}) has a teardown now: drop it from NO_TEARDOWN in tests/graph.test.ts`,
      );
      continue;
    }
    if (typeof teardown !== "string" || teardown.trim() === "") {
      missing.push(`${r.name} (${step})`);
      continue;
    }
    assert.notEqual(teardown, r.inputs["create"], `${r.name}: its delete runs its create again`);
    if (r.type === "command:remote:Command") {
      assert.ok(scriptCall(teardown), `${r.name}: its delete runs no script under scripts/: ${teardown}`);
    }
  }
  assert.deepEqual(missing, [], "commands without a delete that are not read-only by design");
  const used = new Set(commands.map(stepOf));
  const stale = Object.keys(NO_TEARDOWN).filter((s) => !used.has(s));
  assert.deepEqual(stale, [], "NO_TEARDOWN lists steps the program no longer runs");
});

test("2. every custom resource has a component parent; components are vhost-perf-lab:<area>:<Name>", () => {
  const { graph } = local;
  const urns = graph.resources.map((r) => r.urn);
  assert.equal(new Set(urns).size, urns.length, "two resources share a URN");
  for (const r of graph.resources) assert.ok(r.urn, `${r.type} ${r.name} got no URN`);

  const components = graph.resources.filter((r) => !r.custom);
  for (const c of components) {
    const m = /^vhost-perf-lab:([a-z]+):([A-Z][A-Za-z0-9]*)$/.exec(c.type);
    assert.ok(m, `component ${c.name}: type ${c.type} is not vhost-perf-lab:<area>:<Name>`);
    // components/<area>/<Name>.ts, or one per kind: components/<area>/<kind>/<Name>.ts
    const area = path.join(repoRoot(), "components", m[1]!);
    const candidates = [
      path.join(area, `${m[2]!}.ts`),
      ...fs
        .readdirSync(area, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => path.join(area, d.name, `${m[2]!}.ts`)),
    ];
    assert.ok(
      candidates.some((f) => fs.existsSync(f)),
      `component type ${c.type}: no components/${m[1]!}/[<kind>/]${m[2]!}.ts`,
    );
  }
  for (const r of graph.resources.filter((x) => x.custom)) {
    assert.notEqual(r.parent, "", `${r.type} ${r.name} floats at the stack root`);
    const parent = graph.byUrn(r.parent);
    assert.ok(parent, `${r.name}: parent ${r.parent} was never registered`);
    assert.equal(parent.custom, false, `${r.name}: parent ${parent.name} is not a component`);
  }
  for (const r of graph.resources.filter((x) => x.parent !== "")) {
    // URNs carry the parent's type, not its name: a child's name must name its host itself
    const parent = graph.byUrn(r.parent)!;
    assert.ok(
      r.name.startsWith(`${parent.name}-`),
      `${r.name} does not start with its parent's name ${parent.name}-`,
    );
  }
  const roots = graph.resources.filter((r) => r.parent === "");
  assert.deepEqual(
    roots.filter((r) => r.custom).map((r) => r.name),
    [],
    "custom resources at the stack root",
  );
  assert.deepEqual([...new Set(roots.map((r) => r.type))].sort(), [
    "vhost-perf-lab:benchmark:Benchmark",
    "vhost-perf-lab:dut:DutHost",
    "vhost-perf-lab:image:VmImage",
    "vhost-perf-lab:qemu:QemuBuild",
    "vhost-perf-lab:ssh:LocalSshd",
    "vhost-perf-lab:tg:TrafgenPorts",
    "vhost-perf-lab:vm:VhostUserVm",
    "vhost-perf-lab:vswitch:TestpmdVswitch",
  ]);
});

/** The secret checks shared by the managed (local sshd) and the configured connection. */
function assertSecrets(graph: ResourceGraph, privateKey: string, hostKey: string): void {
  const remote = graph.commands("command:remote:Command");
  assert.ok(remote.length > 0);
  for (const r of remote) {
    assert.ok(
      r.secretInputs.includes("connection"),
      `${r.name}: its connection (with the SSH key) is not a secret`,
    );
    const conn = r.inputs["connection"] as Record<string, unknown>;
    assert.equal(conn["privateKey"], privateKey, `${r.name}: the connection does not carry the lab's key`);
    assert.equal(conn["hostKey"], hostKey, `${r.name}: the host key is not pinned`);
  }
  const bench = oneStep(graph, "bench-runner.ts");
  assert.ok(
    bench.secretInputs.includes("stdin"),
    "the benchmark plan (stdin, with the SSH key) is not a secret",
  );
  assert.ok(
    String(bench.inputs["stdin"]).includes("PRIVATE KEY"),
    "the plan carries no key: the runner cannot connect",
  );

  for (const r of graph.resources) {
    for (const [k, v] of Object.entries(r.inputs)) {
      if (r.secretInputs.includes(k)) continue;
      assert.ok(
        !JSON.stringify(v ?? null).includes("PRIVATE KEY"),
        `${r.name}: plain input ${k} holds a private key`,
      );
    }
    for (const [k, v] of Object.entries(r.outputs)) {
      if (!String(v).includes("PRIVATE KEY")) continue;
      assert.ok(
        r.additionalSecretOutputs.includes(k),
        `${r.name}: output ${k} holds a private key and is not secret`,
      );
    }
  }
}

test("3. secrets: every remote connection is a secret, no plain input or output holds a private key", () => {
  assertSecrets(local.graph, FAKE_PRIVATE_KEY, FAKE_HOST_KEY);
  // two lab sshds: the DUT's on loopback, the TG host's in its netns
  const sshds = steps(local.graph, "local-sshd.sh");
  assert.deepEqual(sshds.map((r) => r.name).sort(), ["gen-ssh-sshd", "local-ssh-sshd"]);
  for (const sshd of sshds) {
    assert.deepEqual(
      sshd.additionalSecretOutputs,
      ["stdout"],
      `${sshd.name}: the lab sshd prints the client key: stdout must be secret`,
    );
  }
  const tgSshd = sshds.find((r) => r.name === "gen-ssh-sshd")!;
  const env = tgSshd.inputs["environment"] as Record<string, string>;
  assert.equal(env["LAB_SSHD_NETNS"], "gen");
  assert.equal(env["LAB_SSHD_ADDR"], "10.250.22.2");
  const outputs = JSON.stringify(local.outputs);
  assert.ok(!outputs.includes("PRIVATE KEY"), "a stack output holds the private key");
  assert.deepEqual(
    local.secret,
    { hosts: false, results: false, throughput: false },
    "stack outputs readable",
  );
});

test("3b. secrets: a configured host's key (a stack secret) stays a secret on every command", async () => {
  const run = await runProgram({
    stackFile: "Pulumi.local.yaml",
    stack: "local",
    // what `pulumi config set --secret --path 'hosts[0].ssh.privateKey'` hands the program
    secretKeys: ["vhost-perf-lab:hosts"],
    edit: (config) => {
      // one configured host in both roles (the TG host of the 2-node local lab is managed)
      const hosts = config["hosts"] as Record<string, unknown>[];
      hosts.splice(1);
      const host = hosts[0]!;
      host["roles"] = ["dut", "tg"];
      (host["cpus"] as Record<string, unknown>)["tg"] = "0";
      (config["tg"] as Record<string, unknown>)["host"] = host["name"];
      host["ssh"] = {
        host: "127.0.0.1",
        port: 2022,
        user: "root",
        privateKey: FAKE_PRIVATE_KEY,
        hostKey: FAKE_HOST_KEY,
      };
    },
  });
  assert.deepEqual(steps(run.graph, "local-sshd.sh"), [], "a configured host gets no lab sshd");
  assertSecrets(run.graph, FAKE_PRIVATE_KEY, FAKE_HOST_KEY);
  assert.ok(!JSON.stringify((await resolved(run.program.hosts)).value).includes("PRIVATE KEY"));
});

test("4. ordering: benchmark after VMs, vswitch and tuning; VM after QEMU and image; tuning chained after lab dirs; all after facts", () => {
  const { graph } = local;
  const bench = oneStep(graph, "bench-runner.ts");
  const after = (from: RecordedResource, to: RecordedResource[], what: string): void => {
    assert.ok(to.length > 0, `no ${what} registered`);
    for (const t of to)
      assert.ok(graph.dependsOn(from, t), `${from.name} does not depend on ${t.name} (${what})`);
  };
  const vms = [...steps(graph, "vm.sh"), ...steps(graph, "pin-threads.sh")];
  after(bench, vms, "the VMs and their vCPU pinning");
  after(bench, steps(graph, "vswitch-testpmd.sh"), "the vswitch");
  after(bench, tuningChain(graph), "the DUT tuning steps");
  after(bench, steps(graph, "tg-netns.sh"), "the TG ports");
  // the TG host's sshd lives in the netns the wiring makes; the benchmark uses its connection
  const tgSshd = steps(graph, "local-sshd.sh").filter((r) => r.name === "gen-ssh-sshd");
  after(bench, tgSshd, "the TG host's sshd");
  for (const r of tgSshd)
    after(r, steps(graph, "tg-netns.sh"), "the wiring (its netns and management cable)");

  for (const vm of steps(graph, "vm.sh")) {
    after(vm, steps(graph, "qemu-build.sh"), "the QEMU build");
    after(
      vm,
      [...steps(graph, "guest-image/build.sh"), ...steps(graph, "guest-image/deploy.sh")],
      "the image",
    );
    after(vm, steps(graph, "vswitch-testpmd.sh"), "the vswitch (QEMU serves the sockets it connects to)");
  }

  assert.deepEqual(
    tuningChain(graph).map(stepOf),
    ["dut-hugepages.sh", "dut-sysctl.sh", "dut-irq-affinity.sh"],
    "the local stack's tuning.apply: hugepages, sysctl, irqbalance",
  );
  assertChainedAfterDirs(graph);

  const facts = oneStep(graph, "dut-facts.sh");
  for (const r of graph.commands()) {
    if (r === facts || r.name === "local-ssh-sshd") continue;
    assert.ok(graph.dependsOn(r, facts), `${r.name} (${stepOf(r)}) does not depend on the facts step`);
  }
  // the facts step comes first: it depends on nothing of the host
  assert.deepEqual(
    facts.dependencies.map((u) => graph.byUrn(u)).map((r) => r && stepOf(r)),
    ["local-sshd.sh"],
    "the facts step depends only on the SSH connection",
  );
});

test("5. stack outputs labName, hosts, results, throughput as index.ts exports them", () => {
  const { labName, hosts, results, throughput } = local.outputs;
  assert.equal(labName, "local");
  assert.equal(hosts.length, 1);
  const h = hosts[0]!;
  assert.deepEqual(Object.keys(h).sort(), [
    "accel",
    "cpus",
    "hugepages",
    "image",
    "kernel",
    "kvmReason",
    "kvmUsable",
    "memoryMiB",
    "name",
    "qemu",
    "tuning",
    "vms",
  ]);
  assert.equal(h.name, "local");
  assert.equal(h.cpus, 2);
  assert.equal(h.kvmUsable, false);
  assert.equal(h.accel, "tcg", "accel auto without usable KVM");
  assert.equal(h.hugepages.size, "2M");
  assert.equal(h.hugepages.total, 1536, "hugepages as Pulumi.local.yaml asks");
  assert.match(
    h.qemu.binary,
    /^\/opt\/vhost-perf-lab\/qemu\/local\/7\.2-[0-9a-f]{16}\/bin\/qemu-system-x86_64$/,
  );
  assert.deepEqual(h.qemu, { binary: h.qemu.binary, version: MOCK_QEMU_VERSION, patches: PATCHES });
  assert.deepEqual(h.image, { path: "/var/lib/vm/vhost-nested.img", sha256: MOCK_IMAGE_SHA256 });
  assert.deepEqual(
    h.tuning.map((t) => [t["tuning"], t["action"]]),
    [
      ["sysctl", "apply"],
      ["irqbalance", "apply"],
    ],
  );
  assert.equal(h.vms.length, 1);
  const vm = h.vms[0]!;
  assert.deepEqual(Object.keys(vm).sort(), ["bootSeconds", "guestNics", "pid", "vringSizes"]);
  assert.equal(vm.pid, MOCK_VM_PID_BASE + 1);
  const vrings = Object.values(vm.vringSizes ?? {}) as { rx: number; tx: number }[];
  assert.equal(vrings.length, 2, "two vhost-user NICs");
  for (const v of vrings) assert.deepEqual([v.rx, v.tx], [1024, 1024], "queue size of matrix.vringSizes");

  const base = "64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm";
  assert.deepEqual(
    results.map((c) => [c.name, c.policy, c.mrr?.testName, c.ndrpdr?.testName]),
    [
      [base, "cfs", `${base}-mrr`, `${base}-ndrpdr`],
      [`${base}-cfsrr1`, "cfsrr1", `${base}-cfsrr1-mrr`, `${base}-cfsrr1-ndrpdr`],
    ],
  );
  const l1 = MOCK_MRR_PPS * 84 * 8;
  assert.deepEqual(throughput, {
    [`${base}-mrr`]: { mrrAvgPps: MOCK_MRR_PPS, mrrL1Bps: l1 },
    [`${base}-ndrpdr`]: { ndrPps: MOCK_NDR_PPS, pdrPps: MOCK_PDR_PPS },
    [`${base}-cfsrr1-mrr`]: { mrrAvgPps: MOCK_MRR_PPS, mrrL1Bps: l1 },
    [`${base}-cfsrr1-ndrpdr`]: { ndrPps: MOCK_NDR_PPS, pdrPps: MOCK_PDR_PPS },
  });
});

test("6. Pulumi.perf.yaml: the whole 2-node lab (TRex TG server, VPP vswitch on bound NICs, kernel command line) registers", async (t) => {
  const registered: RecordedResource[] = [];
  // hosts the size of the perf lab's (32 CPUs, 2 NUMA nodes, 1G pages free), not this machine
  factsOverride.value = {
    cpus: 32,
    cpusOnline: "0-31",
    cpusOnlineList: Array.from({ length: 32 }, (_, i) => i),
    numaNodeList: [0, 1],
    memTotalMiB: 262144,
    memAvailableMiB: 250000,
    hugepagesFreeBySizeKiB: { "2048": 0, "1048576": 64 },
    kvmUsable: true,
  };
  t.after(() => {
    factsOverride.value = undefined;
  });
  await runProgram({
    stackFile: "Pulumi.perf.yaml",
    stack: "perf",
    registered,
    // the keys as stack secrets (the shipped file points at ~/.ssh files this machine lacks)
    secretKeys: ["vhost-perf-lab:hosts"],
    edit: (config) => {
      for (const host of config["hosts"] as Record<string, Record<string, unknown>>[])
        host["ssh"]!["privateKey"] = FAKE_PRIVATE_KEY;
    },
  });
  const got = names(registered);
  for (const name of ["tg1-dirs", "tg1-trex", "tg1-trex-nics", "tg1-trex-install", "tg1-trex-server"])
    assert.ok(got.includes(name), `${name} was not registered: ${got.join(", ")}`);
  for (const r of registered.filter(
    (x) => x.name.startsWith("tg1-") && x.type === "command:remote:Command",
  )) {
    const conn = r.inputs["connection"] as Record<string, unknown> | undefined;
    if (conn) assert.equal(conn["host"], "192.0.2.12", `${r.name} runs over the TG host's own connection`);
  }
  // the DUT's vswitch: VPP with its NICs bound for DPDK, installed, started; the VM after it
  for (const name of [
    "dut1-vswitch",
    "dut1-vswitch-vpp-nics",
    "dut1-vswitch-vpp-install",
    "dut1-vswitch-vpp",
    "dut1-vm1",
  ])
    assert.ok(got.includes(name), `${name} was not registered: ${got.join(", ")}`);
  assert.ok(!got.some((n) => n.startsWith("dut1-tg")), "no local trafgen ports on a lab DUT");
  // the kernel command line (isolcpus, kernel-args; reboot allowed in the shipped file)
  for (const name of ["dut1-kernel-boot", "dut1-kernel-args", "dut1-kernel-reboot"])
    assert.ok(got.includes(name), `${name} was not registered: ${got.join(", ")}`);
  const reboot = registered.find((x) => x.name === "dut1-kernel-reboot");
  const env = (reboot?.inputs["environment"] ?? {}) as Record<string, string>;
  assert.equal(env["REBOOT_ALLOWED"], "1");
  assert.equal(env["REBOOT_TIMEOUT_S"], "900");
  assert.match(
    env["KARGS"] ?? "",
    /^isolcpus=1-31 nohz_full=1-31 rcu_nocbs=1-31 intel_idle\.max_cstate=1 .* default_hugepagesz=1G hugepagesz=1G hugepages=16$/,
  );
  assert.equal(env["KARGS_ISOLATED"], "1-31");
});

test("6b. Pulumi.local-ovs.yaml: the OVS-DPDK vswitch in its own run dir, ports from the stack, PMD threads and OVS counters in the plan", async () => {
  const run = await runProgram({ stackFile: "Pulumi.local-ovs.yaml", stack: "local-ovs" });
  assert.deepEqual(steps(run.graph, "vswitch-testpmd.sh"), [], "no testpmd in the OVS stack");
  const ovs = oneStep(run.graph, "vswitch-ovs.sh");
  assert.equal(ovs.name, "local-vswitch-ovs");
  assert.equal(ovs.type, "command:remote:Command");
  assert.match(
    String(ovs.inputs["delete"] ?? ""),
    /'vswitch-ovs\.sh' 'stop'$/,
    "torn down by vswitch-ovs.sh stop",
  );
  const env = ovs.inputs["environment"] as Record<string, string>;
  assert.equal(env["VSWITCH_NIC_PORTS"], "af_packet:ovs0,af_packet:ovs1");
  assert.equal(
    env["VSWITCH_VHOST_SOCKETS"],
    "/run/vhost-perf-lab/local-ovs/vhu-1-1.sock,/run/vhost-perf-lab/local-ovs/vhu-1-2.sock",
  );
  assert.equal(env["VSWITCH_RUN_DIR"], "/run/vhost-perf-lab/local-ovs/vpl-local-ovs-local-vswitch");
  assert.match(env["VSWITCH_BRIDGE"] ?? "", /^vplbr[0-9a-f]{8}$/);
  assert.deepEqual([env["VSWITCH_MAIN_CORE"], env["VSWITCH_WORKER_CORES"]], ["0", "1"]);
  assert.deepEqual([env["VSWITCH_MEM_MB"], env["VSWITCH_RX_QUEUES"]], ["512", "1"]);
  // the vswitch after the TG ports and hugepages, the VM after the vswitch, the TG in genovs
  const tg = oneStep(run.graph, "tg-netns.sh");
  assert.equal((tg.inputs["environment"] as Record<string, string>)["TG_NETNS"], "genovs");
  assert.ok(run.graph.dependsOn(ovs, tg), "OVS after the TG ports");
  for (const vm of steps(run.graph, "vm.sh")) assert.ok(run.graph.dependsOn(vm, ovs), `${vm.name} after OVS`);
  // the plan the runner got: OVS's PMD threads and its Interface table
  const runner = oneStep(run.graph, "bench-runner.ts");
  const plan = parsePlan(JSON.parse(String(runner.inputs["stdin"])));
  assert.equal(plan.dut.vswitch.namePattern, "^pmd-c\\d+/id:\\d+$");
  assert.ok(new RegExp(plan.dut.vswitch.namePattern).test("pmd-c01/id:5"));
  assert.ok(!new RegExp(plan.dut.vswitch.namePattern).test("rte-worker-1"));
  assert.deepEqual(plan.dut.vswitchCounters, {
    kind: "ovs",
    runDir: env["VSWITCH_RUN_DIR"],
    bridge: env["VSWITCH_BRIDGE"],
  });
  assert.equal(plan.dut.vswitchTelemetryPrefix, undefined);
  assert.equal(plan.tg.host, "genovs");
  assert.ok(plan.hosts["genovs"], "the TG host's own connection");
  assert.equal((plan.hosts["local"] as { port: number }).port, 2041);
});

test("7. tuning steps follow tuning.apply", async (t) => {
  const withTunings = (apply: string[]) =>
    runProgram({
      stackFile: "Pulumi.local.yaml",
      stack: "local",
      edit: (config) => {
        (config["tuning"] as Record<string, unknown>)["apply"] = apply;
      },
    });

  await t.test("[hugepages] only: no sysctl, irqbalance or cpufreq step", async () => {
    const run = await withTunings(["hugepages"]);
    assert.deepEqual(tuningChain(run.graph).map(stepOf), ["dut-hugepages.sh"]);
    for (const name of ["local-sysctl", "local-irqbalance", "local-cpufreq"]) {
      assert.equal(run.graph.has(name), false, `${name} exists`);
    }
    assertChainedAfterDirs(run.graph);
    const hugepages = oneStep(run.graph, "dut-hugepages.sh");
    assert.ok(
      run.graph.dependsDirectly(oneStep(run.graph, "qemu-build.sh"), hugepages),
      "QEMU after the host's last step",
    );
    assert.deepEqual((await resolved(run.program.hosts)).value[0]!.tuning, []);
  });

  await t.test("all runtime tunings: every step exists, in a chain after the lab dirs", async () => {
    const run = await withTunings(["hugepages", "sysctl", "irqbalance", "cpu-governor", "turbo-off"]);
    const chain = tuningChain(run.graph);
    assert.deepEqual(chain.map(stepOf), TUNING_STEPS);
    assert.deepEqual(names(chain), ["local-hugepages", "local-sysctl", "local-irqbalance", "local-cpufreq"]);
    assertChainedAfterDirs(run.graph);
    const cpufreq = chain[3]!;
    const env = cpufreq.inputs["environment"] as Record<string, string>;
    assert.deepEqual([env["CPUFREQ_GOVERNOR"], env["CPUFREQ_TURBO"]], ["performance", "off"]);
    assert.ok(
      run.graph.dependsDirectly(oneStep(run.graph, "qemu-build.sh"), cpufreq),
      "QEMU after the host's last step",
    );
    assert.ok(run.graph.dependsOn(oneStep(run.graph, "bench-runner.ts"), cpufreq));
    const tuning = (await resolved(run.program.hosts)).value[0]!.tuning;
    assert.deepEqual(
      tuning.map((r) => r["tuning"]),
      ["sysctl", "irqbalance", "cpufreq"],
    );
  });
});
