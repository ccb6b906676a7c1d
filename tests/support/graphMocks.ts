// Pulumi mocks for the resource-graph tests (tests/graph.test.ts): run the real program
// (index.ts) against a stack file without an engine, record every registered resource (type,
// name, parent, dependencies, inputs and which of them are secret), and answer every command
// with the stdout its script prints: one JSON line, shaped like the real one, derived from the
// command's own inputs where the script would (paths, counts, the benchmark plan).
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { loadStackFile, NAMESPACE } from "../../lib/lab";
import { parsePlan, testName, type BenchPlan } from "../../lib/bench/plan";
import type { BenchReport, CellReport } from "../../lib/bench/report";
import { repoRoot } from "./repo";

/** A private key as the lab sshd prints it; only the mocks know it. */
export const FAKE_PRIVATE_KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n";
/** A well-formed ed25519 public host key (the lab check parses the key blob). */
export const FAKE_HOST_KEY = `ssh-ed25519 ${Buffer.concat([
  Buffer.from([0, 0, 0, 11]),
  Buffer.from("ssh-ed25519"),
  Buffer.from([0, 0, 0, 32]),
  Buffer.alloc(32, 0x5a),
]).toString("base64")}`;
export const MOCK_QEMU_VERSION = "QEMU emulator version 7.2.15 (Debian 1:7.2+dfsg-7+deb12u18)";
export const MOCK_IMAGE_SHA256 = "5a".repeat(32);
export const MOCK_VSWITCH_PID = 4242;
/** VM n gets pid MOCK_VM_PID_BASE + n */
export const MOCK_VM_PID_BASE = 5150;
/** received pps of every mocked MRR trial, and the mocked NDR / PDR lower bounds */
export const MOCK_MRR_PPS = 44842;
export const MOCK_NDR_PPS = 9001;
export const MOCK_PDR_PPS = 12000;

export type CommandType = "command:remote:Command" | "command:local:Command";

/** One resource as the program registered it. */
export interface RecordedResource {
  urn: string;
  type: string;
  name: string;
  custom: boolean;
  /** parent URN; "" at the stack root */
  parent: string;
  /** URNs it depends on: explicit dependsOn (components expanded) and the resources behind its inputs */
  dependencies: string[];
  /** inputs as the provider would receive them, secrets unwrapped */
  inputs: Record<string, unknown>;
  /** top-level inputs that arrived as secrets (Pulumi pushes a nested secret up to its top-level input) */
  secretInputs: string[];
  additionalSecretOutputs: string[];
  /** what the mock returned as outputs (commands: stdout), unwrapped */
  outputs: Record<string, unknown>;
}

/** The registered resources, with the graph queries the tests need. */
export class ResourceGraph {
  constructor(readonly resources: RecordedResource[]) {}

  byUrn(urn: string): RecordedResource | undefined {
    return this.resources.find((r) => r.urn === urn);
  }

  /** The resource of this type and name; fails naming what exists. */
  get(name: string, type?: string): RecordedResource {
    const found = this.resources.filter((r) => r.name === name && (type === undefined || r.type === type));
    if (found.length !== 1) {
      throw new Error(
        `expected one resource named ${name}${type ? ` of type ${type}` : ""}, found ${found.length}; registered: ${this.resources.map((r) => r.name).join(", ")}`,
      );
    }
    return found[0]!;
  }

  has(name: string): boolean {
    return this.resources.some((r) => r.name === name);
  }

  commands(type?: CommandType): RecordedResource[] {
    return this.resources.filter((r) => (type ? r.type === type : r.type.startsWith("command:")));
  }

  /** True when `from` depends on `to` directly. */
  dependsDirectly(from: RecordedResource, to: RecordedResource): boolean {
    return from.dependencies.includes(to.urn);
  }

  /** True when `from` depends on `to` directly or through other resources. */
  dependsOn(from: RecordedResource, to: RecordedResource): boolean {
    return this.dependencyClosure(from).has(to.urn);
  }

  /** Every URN `from` depends on, directly or transitively. */
  dependencyClosure(from: RecordedResource): Set<string> {
    const seen = new Set<string>();
    const todo = [...from.dependencies];
    while (todo.length > 0) {
      const urn = todo.pop()!;
      if (seen.has(urn)) continue;
      seen.add(urn);
      todo.push(...(this.byUrn(urn)?.dependencies ?? []));
    }
    return seen;
  }
}

// ---------------------------------------------------------------- what the commands print

/** The script (under scripts/) and arguments a hostScript command runs, from its create text. */
export function scriptCall(create: string): { script: string; args: string[] } | undefined {
  // ... exec bash "$d/scripts/lib/step.sh" "$d" 'up' 'exclusive' '<step>' 'vm.sh' 'start' (shell-quoted)
  const m = /exec bash "\$d\/scripts\/lib\/step\.sh" "\$d" (.*)$/.exec(create);
  const words = (m?.[1] ?? "").split(" ").map((w) => w.replace(/^'(.*)'$/, "$1"));
  const [verb, , , script, ...args] = words;
  if ((verb !== "up" && verb !== "down") || script === undefined) return undefined;
  return { script, args };
}

/**
 * What a command runs, for reading the graph: the script of a remote step ("dut-facts.sh",
 * "guest-image/build.sh"), or for the local commands "local-sshd.sh" and "bench-runner.ts".
 */
export function stepOf(r: RecordedResource): string {
  const create = String(r.inputs["create"] ?? "");
  if (r.type === "command:remote:Command") return scriptCall(create)?.script ?? `? ${create.slice(0, 80)}`;
  const env = (r.inputs["environment"] ?? {}) as Record<string, unknown>;
  if ("LAB_SSHD_PORT" in env) return "local-sshd.sh";
  if (create.includes("bench-runner.ts")) return "bench-runner.ts";
  if (create.includes("kernel-reboot.sh")) return "kernel-reboot.sh";
  return `? ${create.slice(0, 80)}`;
}

/** A file a hostScript command ships and points a variable at (fileEnv), repo-relative. */
function fileEnvPath(env: Env, variable: string): string | undefined {
  for (const pair of (env["LAB_FILE_ENV"] ?? "").split(" ")) {
    if (pair.startsWith(`${variable}=`)) return pair.slice(variable.length + 1);
  }
  return undefined;
}

const json = (v: unknown): string => `${JSON.stringify(v)}\n`;

type Env = Record<string, string>;

/** stdout of every script a remote command may run (the up action), keyed by script. */
/** What dut-facts.sh reports under the mocks: this machine's facts; a test may override some. */
export const factsOverride: { value?: Record<string, unknown> } = {};
function localFacts(): Record<string, unknown> {
  return {
    hostname: "lab",
    kernel: "6.1.0-27-amd64",
    cpus: 2,
    cpusOnline: "0-1",
    numaNodes: "0",
    memoryMiB: 7940,
    hugepages: { "2048kB": { total: 0, free: 0 }, "1048576kB": { total: 0, free: 0 } },
    hugetlbfsMounts: ["/dev/hugepages"],
    kvmUsable: false,
    kvmReason: "/dev/kvm is kvm-pvm (software nested virtualisation)",
    systemd: false,
    cmdline: "BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro",
    cpusOnlineList: [0, 1],
    numaNodeList: [0],
    hugepageSizesKiB: [2048, 1048576],
    memTotalMiB: 7940,
    memAvailableMiB: 7000,
    hugepagesFreeBySizeKiB: { "2048": 0, "1048576": 0 },
    pciAddresses: ["0000:00:01.0", "0000:18:00.0", "0000:18:00.1", "0000:3b:00.0", "0000:3b:00.1"],
    bootId: "00000000-0000-0000-0000-000000000001",
  };
}

const remoteScripts: Record<string, (env: Env, args: string[], create: string) => unknown> = {
  "dut-kernel-args.sh": (env) => ({
    tuning: "kernel-args",
    action: "apply",
    changed: true,
    rebootNeeded: true,
    cmdline: "BOOT_IMAGE=/boot/vmlinuz root=UUID=x ro",
    missing: (env["KARGS"] ?? "").split(" "),
    stale: [],
    dropin: "/etc/default/grub.d/vhost-perf-lab.cfg",
    originalCmdline: "BOOT_IMAGE=/boot/vmlinuz root=UUID=x ro",
  }),
  "dut-facts.sh": () => ({
    ...localFacts(),
    ...factsOverride.value,
  }),
  "lab-dirs.sh": (env) => ({ dirs: env["LAB_DIRS"] }),
  // the TRex TG (components/tg/TrexServer.ts): what nic-bind.sh and trex-server.sh report
  "nic-bind.sh": () => ({
    devices: [
      { pci: "0000:3b:00.0", mac: "3c:fd:fe:00:00:10", driver: "vfio-pci", original: "i40e" },
      { pci: "0000:3b:00.1", mac: "3c:fd:fe:00:00:11", driver: "vfio-pci", original: "i40e" },
    ],
  }),
  "trex-server.sh": (_env, args) =>
    args[0] === "install"
      ? { installDir: "/opt/trex-core", version: "3.03" }
      : { pid: 4242, startTime: "123" },
  "sched-restore.sh": () => ({ record: false, restored: 0 }),
  "dut-hugepages.sh": (env) => {
    const count = Number(env["HUGEPAGES_COUNT"]);
    return {
      size: env["HUGEPAGES_SIZE"],
      requested: count,
      total: count,
      free: count,
      mount: env["HUGEPAGES_MOUNT"] ?? "/dev/hugepages",
      mounted: true,
    };
  },
  "dut-sysctl.sh": (env) => ({
    tuning: "sysctl",
    action: "apply",
    settings: (env["SYSCTL_SETTINGS"] ?? "")
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const [, key, value] = /^([^=>]+)>?=(.*)$/.exec(line) ?? [];
        return { key, before: "1", value };
      }),
    missing: [],
  }),
  "dut-irq-affinity.sh": (env) => ({
    tuning: "irqbalance",
    action: "apply",
    cpus: env["IRQ_CPUS"],
    irqbalance: "not-running",
    moved: 3,
    unmovable: 1,
  }),
  "dut-cpufreq.sh": (env) => ({
    tuning: "cpufreq",
    action: "apply",
    governor: env["CPUFREQ_GOVERNOR"]
      ? { status: "unavailable", value: env["CPUFREQ_GOVERNOR"], cpus: 0, reason: "no cpufreq (a VM)" }
      : { status: "skipped", value: "", cpus: 0 },
    turbo:
      env["CPUFREQ_TURBO"] === "off"
        ? { status: "unavailable", reason: "neither intel_pstate/no_turbo nor cpufreq/boost" }
        : { status: "skipped" },
  }),
  "qemu-build.sh": (env) => {
    const patchDir = fileEnvPath(env, "QEMU_PATCH_DIR");
    const patches =
      patchDir === undefined
        ? []
        : fs
            .readdirSync(path.join(repoRoot(), patchDir))
            .filter((f) => f.endsWith(".patch"))
            .sort();
    return {
      binary: `${env["QEMU_PREFIX"]}/bin/qemu-system-x86_64`,
      version: MOCK_QEMU_VERSION,
      prefix: env["QEMU_PREFIX"],
      patches,
      built: true,
      seconds: 270,
      installedPackages: [],
      sourceKind: env["QEMU_SOURCE_KIND"],
      source: env["QEMU_DEBIAN_VERSION"] ?? env["QEMU_TARBALL_URL"],
      addedDebSrc: false,
      log: "",
    };
  },
  "guest-image/build.sh": () => ({
    image: `/var/cache/vhost-perf-lab/images/vhost-nested-${MOCK_IMAGE_SHA256.slice(0, 12)}.qcow2`,
    sha256: MOCK_IMAGE_SHA256,
    bytes: 1_073_741_824,
    format: "qcow2",
    built: true,
    seconds: 120,
  }),
  "guest-image/deploy.sh": (env) => ({
    image: env["IMAGE_PATH"],
    sha256: env["IMAGE_SHA256"],
    bytes: 1_073_741_824,
    deployed: true,
    owned: true,
    backup: null,
    seconds: 2,
  }),
  "tg-netns.sh": (env) => {
    const hostIfs = (env["TG_HOST_IFS"] ?? "").split(",");
    const nsIfs = (env["TG_NS_IFS"] ?? "").split(",");
    return {
      action: "setup",
      netns: env["TG_NETNS"],
      netnsPresent: true,
      mtu: Number(env["TG_MTU"]),
      links: hostIfs.map((h, i) => ({ host: h, hostState: "up", ns: nsIfs[i], nsState: "up" })),
    };
  },
  // scripts/vswitch-ovs.sh start, as it printed here (its interfaces list left out)
  "vswitch-ovs.sh": (env) => ({
    kind: "ovs-dpdk",
    action: "start",
    prefix: env["VSWITCH_PREFIX"],
    running: true,
    pid: MOCK_VSWITCH_PID,
    pids: [MOCK_VSWITCH_PID, MOCK_VSWITCH_PID - 2],
    runDir: env["VSWITCH_RUN_DIR"],
    bridge: env["VSWITCH_BRIDGE"],
    mainCore: Number(env["VSWITCH_MAIN_CORE"]),
    workerCores: (env["VSWITCH_WORKER_CORES"] ?? "").split(",").map(Number),
    pmdThreads: [{ tid: MOCK_VSWITCH_PID + 9, name: "pmd-c01/id:5", cpus: env["VSWITCH_WORKER_CORES"] }],
    workerTids: [MOCK_VSWITCH_PID + 9],
    interfaces: null,
    alreadyRunning: false,
    removedLeftovers: false,
  }),
  "vswitch-vpp.sh": (env, args) =>
    args[0] === "install"
      ? { action: "install", kind: "vpp", version: env["VPP_VERSION"], source: env["VPP_INSTALL"] }
      : {
          action: "start",
          kind: "vpp",
          pid: MOCK_VSWITCH_PID,
          workerTids: [MOCK_VSWITCH_PID + 7],
          rings: [],
        },
  "vswitch-testpmd.sh": (env) => ({
    action: "start",
    prefix: env["VSWITCH_PREFIX"],
    running: true,
    pid: MOCK_VSWITCH_PID,
    mainCore: Number(env["VSWITCH_MAIN_CORE"]),
    workerCores: (env["VSWITCH_WORKER_CORES"] ?? "").split(",").map(Number),
    workers: [{ tid: MOCK_VSWITCH_PID + 8, name: "rte-worker-1", cpus: env["VSWITCH_WORKER_CORES"] }],
    workerTids: [MOCK_VSWITCH_PID + 8],
    mode: "vhost",
    portTopology: "paired",
    pairs: [
      [0, 1],
      [2, 3],
    ],
    afIfaces: (env["VSWITCH_AF_IFACES"] ?? "").split(","),
    vhostSockets: (env["VSWITCH_VHOST_SOCKETS"] ?? "").split(","),
    telemetry: null,
    log: "",
    alreadyRunning: false,
  }),
  "vm.sh": (env) => {
    const index = Number(/(\d+)$/.exec(env["VM_NAME"] ?? "")?.[1] ?? 0);
    const pid = MOCK_VM_PID_BASE + index;
    // the queue size QEMU was started with (its argv), as QMP reports it once vhost negotiated
    const argv = Buffer.from(env["VM_ARGV_B64"] ?? "", "base64").toString("utf8");
    const size = Number(/rx_queue_size=(\d+)/.exec(argv)?.[1] ?? 256);
    const vring = { rx: size, tx: size, rxMax: size, txMax: size, queuePairs: 1, vhostStarted: true };
    return {
      action: "start",
      vm: env["VM_NAME"],
      state: "running",
      pid,
      alreadyRunning: false,
      vcpuTids: [pid + 1, pid + 2],
      vcpuThreads: [
        { tid: pid + 1, name: "CPU 0/TCG" },
        { tid: pid + 2, name: "CPU 1/TCG" },
      ],
      launchSeconds: 1,
      bootSeconds: 38,
      guestNics: (env["VM_GUEST_NICS"] ?? "").split(" ").filter(Boolean),
      guestNicsBoundToDpdk: [],
      vringSizes: { nic1: vring, nic2: vring },
      guestTestpmd: "running",
      qmpSocket: env["VM_QMP_SOCKET"],
      qgaSocket: env["VM_QGA_SOCKET"],
      consoleLog: env["VM_CONSOLE_LOG"],
    };
  },
  "pin-threads.sh": (env) => ({
    pid: MOCK_VM_PID_BASE + 1,
    cpus: env["PIN_CPUS"],
    pinned: [5152, 5153],
    others: 4,
  }),
};

/** The runner's report for a plan: every cell measured, names as the runner builds them. */
export function benchReport(plan: BenchPlan): BenchReport {
  const at = "2025-01-01T00:00:00.000Z";
  const cells: CellReport[] = plan.cells.map((cell) => {
    const names = Object.fromEntries(cell.tests.map((t) => [t, testName(cell, t, plan.naming)]));
    const goal = (name: string, lossRatio: number, pps: number) => ({
      name,
      lossRatio,
      outcome: "found",
      lowerBoundPps: pps,
      lowerBoundL1Bps: pps * 84 * 8,
      conditionalThroughputPps: pps,
      upperBoundPps: pps * 1.01,
      relativeWidth: 0.005,
    });
    return {
      name: testName(cell, "mrr", plan.naming).replace(/-mrr$/, ""),
      testNames: names,
      vringSize: cell.vringSize,
      policy: cell.policy,
      frame: cell.frame === "IMIX_v4_1" ? "imix" : `${cell.frame}b`,
      frameBytes: cell.frame,
      directions: 1,
      startedAt: at,
      durationS: 30,
      warnings: [],
      ...(names["mrr"]
        ? {
            mrr: {
              testName: names["mrr"],
              loadPps: plan.mrr.maxLoadPps,
              trialDurationS: plan.mrr.trialDurationS,
              trials: Array.from({ length: plan.mrr.trials }, () => ({
                offered: plan.mrr.maxLoadPps,
                received: MOCK_MRR_PPS,
                loss: 1 - MOCK_MRR_PPS / plan.mrr.maxLoadPps,
                pps: MOCK_MRR_PPS,
              })),
              avgPps: MOCK_MRR_PPS,
              stdevPps: 0,
              cov: 0,
              l1Bps: MOCK_MRR_PPS * 84 * 8,
              shortfallTrials: 0,
            },
          }
        : {}),
      ...(names["ndrpdr"]
        ? {
            ndrpdr: {
              testName: names["ndrpdr"],
              stopReason: "goals met",
              ndr: goal("NDR", plan.ndrpdr.ndrLossRatio, MOCK_NDR_PPS),
              pdr: goal("PDR", plan.ndrpdr.pdrLossRatio, MOCK_PDR_PPS),
              minLoadPps: plan.ndrpdr.minLoadPps,
              maxLoadPps: plan.ndrpdr.maxLoadPps,
              trialCount: 0,
              trialSecondsUsed: 0,
              elapsedS: 0,
              trials: [],
            },
          }
        : {}),
    };
  });
  return {
    tool: "vhost-perf-lab/bench-runner",
    schemaVersion: 1,
    plan: plan.name,
    startedAt: at,
    finishedAt: at,
    durationS: 60,
    ok: true,
    tg: { kind: plan.tg.kind, directions: 1, note: "mocked" },
    hosts: {},
    facts: {},
    notes: [],
    cells,
  };
}

/** stdout of a command, as its script would print it; fails for a script the mocks do not know. */
export function mockStdout(type: string, inputs: Record<string, unknown>): string {
  const create = String(inputs["create"] ?? "");
  const env = (inputs["environment"] ?? {}) as Env;
  if (type === "command:remote:Command") {
    const call = scriptCall(create);
    const script = call && remoteScripts[call.script];
    if (!call || !script) {
      throw new Error(
        `graphMocks: no mocked stdout for the remote command running ${call ? `scripts/${call.script}` : create.slice(0, 200)}; add it to remoteScripts in tests/support/graphMocks.ts`,
      );
    }
    return json(script(env, call.args, create));
  }
  if (type === "command:local:Command") {
    const stdin = String(inputs["stdin"] ?? "");
    if (env["LAB_SSHD_PORT"] !== undefined) {
      // scripts/local-sshd.sh up
      return json({
        host: "127.0.0.1",
        port: Number(env["LAB_SSHD_PORT"]),
        user: env["LAB_SSHD_USER"],
        hostKey: FAKE_HOST_KEY,
        privateKey: FAKE_PRIVATE_KEY,
      });
    }
    if (create.includes("kernel-reboot.sh")) {
      // scripts/kernel-reboot.sh record|apply: the running kernel (after the reboot for apply)
      const after = create.endsWith(" apply");
      const cmdline = `BOOT_IMAGE=/boot/vmlinuz root=UUID=x ro${after ? ` ${env["KARGS"] ?? ""}` : ""}`;
      return json({
        action: after ? "apply" : "record",
        rebooted: after,
        cmdline,
        isolated: after ? (env["KARGS_ISOLATED"] ?? "") : "",
        bootId: "00000000-0000-0000-0000-000000000002",
        waitedS: after ? 60 : 0,
      });
    }
    if (create.includes("bench-runner.ts")) {
      // the runner checks its plan first (lib/bench/plan.ts parsePlan), then prints one document
      return JSON.stringify(benchReport(parsePlan(JSON.parse(stdin))), null, 2);
    }
  }
  throw new Error(`graphMocks: no mocked stdout for ${type} running ${create.slice(0, 200)}`);
}

// ---------------------------------------------------------------- running the program

/** The subset of the engine's RegisterResourceRequest the recorder reads. */
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getDependenciesList(): string[];
  getPropertydependenciesMap(): {
    forEach(cb: (deps: { getUrnsList(): string[] }, key: string) => void): void;
  };
  getAdditionalsecretoutputsList(): string[];
}
type RegisterCallback = (err: unknown, response?: { getUrn(): string }) => void;
interface MonitorLike {
  registerResource(req: RegisterRequest, callback: RegisterCallback): Promise<void>;
}

const secretValue = (value: unknown): Record<string, unknown> => ({
  [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig,
  value,
});

/** A stack file's config as the engine hands it to the program: namespaced keys, JSON text values. */
export function stackConfig(
  stackFile: string,
  edit?: (config: Record<string, unknown>) => void,
): Record<string, string> {
  const loaded = loadStackFile(path.resolve(repoRoot(), stackFile));
  if (!loaded.readable || loaded.errors.length > 0) {
    throw new Error(`cannot read ${stackFile}: ${JSON.stringify(loaded.errors)}`);
  }
  const config = structuredClone(loaded.config);
  edit?.(config);
  return Object.fromEntries(
    Object.entries(config).map(([k, v]) => [
      `${NAMESPACE}:${k}`,
      typeof v === "string" ? v : JSON.stringify(v),
    ]),
  );
}

export type Program = typeof import("../../index");

export interface ProgramRun {
  /** the program's exports (index.ts), once loaded */
  program: Program;
  graph: ResourceGraph;
}

/**
 * Run index.ts under mocks with the config of a stack file (optionally edited), wait until
 * every resource is registered, and return its exports and the recorded graph. index.ts is
 * loaded afresh each time (its module is evaluated once per require). A program that throws
 * while loading rejects with that error; `registered` then tells what got registered first.
 */
export async function runProgram(opts: {
  stackFile: string;
  stack: string;
  edit?: (config: Record<string, unknown>) => void;
  /** config keys the engine would hand over as secrets (decrypted) */
  secretKeys?: string[];
  registered?: RecordedResource[];
}): Promise<ProgramRun> {
  const records: RecordedResource[] = opts.registered ?? [];
  // a mock that cannot answer fails the run at once (not after the outputs' timeout)
  let fail: (e: Error) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined);
  // the request being registered, by type and name: the mock reads what its args lack
  const pending = new Map<string, RecordedResource>();
  const mocks: pulumi.runtime.Mocks = {
    call: (args) => {
      throw new Error(`graphMocks: unexpected invoke ${args.token}`);
    },
    newResource: (args) => {
      const record = pending.get(`${args.type}::${args.name}`);
      if (!record) throw new Error(`graphMocks: ${args.type} ${args.name} was not seen by the recorder`);
      const inputs = args.inputs as Record<string, unknown>;
      record.inputs = Object.fromEntries(
        Object.entries(inputs).map(([k, v]) => [k, pulumi.runtime.unwrapRpcSecret(v) as unknown]),
      );
      record.secretInputs = Object.keys(inputs).filter((k) => pulumi.runtime.isRpcSecret(inputs[k]));
      if (args.type.startsWith("command:")) {
        try {
          record.outputs = { stdout: mockStdout(args.type, record.inputs), stderr: "" };
        } catch (e) {
          fail(e instanceof Error ? e : new Error(String(e)));
          throw e;
        }
      }
      // Outputs as the engine stores them: inputs echoed with their secret wrappers, the outputs
      // named in additionalSecretOutputs secret, and (tools/command-provider runsSecret) stdout
      // and stderr secret when a secret shapes what the command runs.
      const runsSecret = ["create", "update", "stdin", "environment"].some((k) =>
        record.secretInputs.includes(k),
      );
      const state: Record<string, unknown> = { ...inputs };
      for (const [k, v] of Object.entries(record.outputs)) {
        const secret = record.additionalSecretOutputs.includes(k) || (runsSecret && k.startsWith("std"));
        state[k] = secret ? secretValue(v) : v;
      }
      return { id: args.custom ? `${args.name}-id` : undefined, state };
    },
  };
  await pulumi.runtime.setMocks(mocks, "vhost-perf-lab", opts.stack, false);
  const monitor = pulumi.runtime.getMonitor() as unknown as MonitorLike;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) => {
    const dependencies = new Set(req.getDependenciesList());
    req
      .getPropertydependenciesMap()
      .forEach((deps) => deps.getUrnsList().forEach((u) => dependencies.add(u)));
    const record: RecordedResource = {
      urn: "",
      type: req.getType(),
      name: req.getName(),
      custom: req.getCustom(),
      parent: req.getParent(),
      dependencies: [...dependencies],
      inputs: {},
      secretInputs: [],
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
      outputs: {},
    };
    records.push(record);
    pending.set(`${record.type}::${record.name}`, record);
    return register(req, (err, response) => {
      if (response) record.urn = response.getUrn();
      callback(err, response);
    });
  };
  pulumi.runtime.setAllConfig(stackConfig(opts.stackFile, opts.edit), opts.secretKeys ?? []);

  const indexModule = require.resolve("../../index");
  delete require.cache[indexModule];
  const program: Program = await import("../../index");
  await Promise.race([
    Promise.all([resolved(program.hosts), resolved(program.results), resolved(program.throughput)]),
    failed,
  ]);
  await Promise.race([waitForRpcs(), failed]);
  return { program, graph: new ResourceGraph(records) };
}

/** The SDK's own wait for outstanding registrations (what the language host awaits before exit). */
async function waitForRpcs(): Promise<void> {
  const settings = (await import("@pulumi/pulumi/runtime/settings")) as unknown as {
    waitForRPCs?: () => Promise<void>;
  };
  await settings.waitForRPCs?.();
}

/** An Output's value and secretness; rejects when it has not resolved within `timeoutMs`. */
export async function resolved<T>(
  o: pulumi.Output<T>,
  timeoutMs = 20000,
): Promise<{ value: T; secret: boolean }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const value = await Promise.race([
      new Promise<T>((resolve) => {
        o.apply((v) => {
          resolve(v);
          return v;
        });
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`an output did not resolve within ${timeoutMs} ms (did an apply throw?)`)),
          timeoutMs,
        );
        timer.unref(); // a run that failed otherwise does not wait for it
      }),
    ]);
    return { value, secret: await pulumi.isSecret(o) };
  } finally {
    clearTimeout(timer);
  }
}
