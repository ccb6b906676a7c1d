/**
 * The benchmark plan: everything the runner needs, as one JSON document. The Benchmark component
 * writes it from the lab model; people can write one by hand. `parsePlan` checks a parsed JSON value
 * and fills in the defaults; every problem is reported at once, with its path.
 */
import { parseHostKey } from "../lab/hostKey";
import { frameLabel, meanFrameBytes, parseFrameSize, type FrameSize } from "../measure/units";

export const CFS_POLICIES = ["cfs", "cfsrr1"] as const;
export type CfsPolicy = (typeof CFS_POLICIES)[number];
export const TEST_TYPES = ["mrr", "ndrpdr"] as const;
export type TestType = (typeof TEST_TYPES)[number];

/** How the runner reaches a host. `local` runs commands with bash on this machine (tests, dev). */
export type HostConnection =
  | {
      transport: "ssh";
      host: string;
      port: number;
      user: string;
      /** OpenSSH/PEM private key text (a secret: never printed). One of privateKey/privateKeyPath. */
      privateKey?: string;
      privateKeyPath?: string;
      /**
       * Pinned host key, the project's one form (lib/lab/hostKey.ts): the public key line
       * "<type> <base64> [comment]". Fingerprints and known_hosts lines are refused.
       */
      hostKey: string;
      readyTimeoutMs: number;
    }
  | { transport: "local" };

/** Picks data-plane threads: the threads of one process whose comm matches a pattern. */
export interface ThreadSelector {
  /** Shown in output, e.g. "vswitch", "vm1". */
  label: string;
  /** The process: a fixed pid, or a pidfile read on the DUT at the start of every cell. */
  pid?: number;
  pidFile?: string;
  /** JavaScript regular expression on /proc/<pid>/task/<tid>/comm. */
  namePattern: string;
}

/**
 * Where per-cell vswitch port counters come from (the vswitch kind's bench hook): testpmd's DPDK
 * telemetry socket (its --file-prefix), OVS's Interface table (its own run dir's db socket),
 * VPP's CLI socket, or nowhere.
 */
export type VswitchCounterSource =
  | { kind: "dpdk-telemetry"; prefix: string }
  | { kind: "ovs"; runDir: string; bridge: string }
  | { kind: "vpp"; cliSocket: string }
  | { kind: "none" };

export interface DutSpec {
  host: string;
  /** the vswitch's data-plane threads: testpmd ^rte-worker-, OVS ^pmd- (the kind's bench hook) */
  vswitch: ThreadSelector;
  /** QEMU vCPU threads: pattern ^CPU \d+/(KVM|TCG)$ (needs -name ...,debug-threads=on) */
  vms: ThreadSelector[];
  /**
   * The vswitch's DPDK --file-prefix (testpmd's telemetry). Kept for plans written before
   * vswitchCounters: parsePlan turns it into {kind: "dpdk-telemetry", prefix}.
   */
  vswitchTelemetryPrefix?: string;
  /** per-cell port counters; absent: none read */
  vswitchCounters?: VswitchCounterSource;
  /** CPUs kept for the control path; an RR thread allowed there is reported. */
  housekeepingCpus: number[];
  /**
   * Several vring sizes in one matrix (issue 14): the VMs run `deployed` as the stack brought them
   * up; for a cell of another size the runner restarts every VM at that size with its control kit
   * (scripts/vm-ring.sh, one path per VM, under the stack's run dir) and puts `deployed` back at
   * the end. Absent: every cell must have one vring size, and the runner never restarts a VM.
   */
  vmRing?: VmRingSpec;
}

export interface VmRingSpec {
  /** the vring size the VMs were deployed with */
  deployed: number;
  /** per VM: its kit's vm-ring.sh on the DUT (<runDir>/vm<i>/ctl/vm-ring.sh) */
  controls: string[];
  /** the VMs' QEMU pids as deployed (the datapath's identity; dut.vms then name pidfiles) */
  deployedPids?: number[];
}

export interface TrafgenSpec {
  kind: "trafgen";
  host: string;
  /**
   * The namespace trafgen's interfaces are in, entered with `ip netns exec` from the TG host's
   * session; "" when the session is already there (the 2-node local lab's TG host).
   */
  netns: string;
  /** port 0 (direction 0 sends here) and port 1 (it counts what comes back; direction 1 sends here) */
  txIf: string;
  rxIf: string;
  /** 1: port 0 -> port 1 only; 2: both ways at once, as CSIT measures (loads are per direction) */
  directions: 1 | 2;
  srcMac: string;
  dstMac: string;
  /** Source IPv4 addresses cycled through, 10.10.10.1..N (CSIT: 254). */
  sources: number;
  /** Seconds to wait after trafgen ends for packets still in flight. */
  settleS: number;
  trafgen: string;
}

/** TRex in stateless mode on a lab's TG server, driven over its JSON-RPC channel. */
export interface TrexSpec {
  kind: "trex";
  host: string;
  /** TRex's synchronous RPC endpoint (ZeroMQ REQ), as reached from where the runner runs */
  rpcHost: string;
  rpcPort: number;
  /** TRex port ids of direction 0's sender and receiver (direction 1 is the reverse) */
  ports: [number, number];
  /** per-call reply timeout, ms */
  timeoutMs: number;
  /** take the ports even when another session holds them */
  forceAcquire: boolean;
  /** CSIT's latency after NDR/PDR: levels as fractions of the PDR; null = not measured */
  latency: { fractions: number[]; durationS: number; streamPps: number } | null;
}

export type TgSpec = TrafgenSpec | TrexSpec;

export interface CellSpec {
  frame: FrameSize;
  vringSize: number;
  policy: CfsPolicy;
  tests: TestType[];
}

export interface MrrParams {
  trials: number;
  trialDurationS: number;
  /** Offered load per direction: the NIC limit, or the generator's honest ceiling (trafgen ~300 kpps). */
  maxLoadPps: number;
}

export interface NdrPdrParams {
  minLoadPps: number;
  maxLoadPps: number;
  trialDurationS: number;
  durationSumS: number;
  timeLimitS: number;
  relativeWidth: number;
  exceedRatio: number;
  ndrLossRatio: number;
  pdrLossRatio: number;
  intermediatePhases: number;
}

/** What goes into the CSIT-style test names. */
export interface NamingSpec {
  /** physical cores of the vswitch data plane ("1c") */
  cores: number;
  nic: string;
  forwarding: string;
  vms: number;
  vhostPerVm: number;
}

export interface SchedSpec {
  /** sched_rt_runtime_us used during a cfsrr1 cell when the RT threads could cover every CPU. */
  rtRuntimeBoundUs: number;
}

export interface BenchPlan {
  version: 1;
  name: string;
  /**
   * The Pulumi stack ([a-z0-9][a-z0-9-]{0,30}): everything the runner creates on a host lives
   * under /run/vhost-perf-lab/<stack>/ (hostPaths), so two stacks on one host never collide.
   */
  stack: string;
  hosts: Record<string, HostConnection>;
  dut: DutSpec;
  tg: TgSpec;
  cells: CellSpec[];
  mrr: MrrParams;
  ndrpdr: NdrPdrParams;
  naming: NamingSpec;
  sched: SchedSpec;
  /** Free-form facts copied into the output's metadata (e.g. from the lab model). */
  facts: Record<string, unknown>;
}

export const PLAN_DEFAULTS = {
  mrr: { trials: 10, trialDurationS: 1 },
  ndrpdr: {
    minLoadPps: 9001,
    trialDurationS: 1,
    durationSumS: 21,
    timeLimitS: 1200,
    relativeWidth: 0.005,
    exceedRatio: 0.5,
    ndrLossRatio: 0,
    pdrLossRatio: 0.005,
    intermediatePhases: 2,
  },
  trafgen: {
    netns: "vpl-tg",
    txIf: "vpl-tg0",
    rxIf: "vpl-tg1",
    directions: 1,
    srcMac: "02:00:00:00:00:01",
    dstMac: "02:00:00:00:00:02",
    sources: 254,
    settleS: 0.5,
    trafgen: "trafgen",
  },
  trex: {
    rpcPort: 4501,
    ports: [0, 1],
    timeoutMs: 5000,
    // CSIT: latency streams at 10, 50 and 90 % of the PDR after the search
    latency: { fractions: [0.1, 0.5, 0.9], durationS: 5, streamPps: 10000 },
  },
  naming: { cores: 1, nic: "eth", forwarding: "l2xcbase", vhostPerVm: 2 },
  sched: { rtRuntimeBoundUs: 500000 },
  vswitchPattern: "^rte-worker-",
  vcpuPattern: "^CPU \\d+/(KVM|TCG)$",
} as const;

/** A stack name, as scripts/lib/step.sh checks it. */
export const STACK_RE = /^[a-z0-9][a-z0-9-]{0,30}$/;
/** The lab's runtime directory on every host; each stack has its own below it. */
export const RUN_ROOT = "/run/vhost-perf-lab";

/** Where the runner keeps its files on a host (the same on every host of the plan). */
export interface HostPaths {
  /** /run/vhost-perf-lab/<stack>: LAB_RUN_DIR of the stack's host steps */
  runDir: string;
  /**
   * The scheduling record, written (atomically) before the runner changes any thread's policy
   * or the RT runtime, removed after a clean revert; scripts/sched-restore.sh restores from it
   */
  schedRecord: string;
  /** trafgen configs, the running trial's pids and output; removed when the runner ends */
  trafgenDir: string;
}

export function hostPaths(stack: string): HostPaths {
  if (!STACK_RE.test(stack)) throw new Error(`"${stack}" is not a stack name ([a-z0-9][a-z0-9-]{0,30})`);
  const runDir = `${RUN_ROOT}/${stack}`;
  return { runDir, schedRecord: `${runDir}/sched.record`, trafgenDir: `${runDir}/trafgen` };
}

export class PlanError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid benchmark plan:\n  - ${problems.join("\n  - ")}`);
    this.name = "PlanError";
  }
}

// ---- CSIT-style names ------------------------------------------------------------------------

export function frameTag(frame: FrameSize): string {
  return frame === "IMIX_v4_1" ? "imix" : `${frame}b`;
}

/** e.g. 64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-cfsrr1 (without the test type). */
export function cellBaseName(
  cell: Pick<CellSpec, "frame" | "vringSize" | "policy">,
  naming: NamingSpec,
): string {
  return [
    frameTag(cell.frame),
    `${naming.cores}c`,
    naming.nic,
    naming.forwarding,
    "eth",
    `${naming.vms * naming.vhostPerVm}vhostvr${cell.vringSize}`,
    `${naming.vms}vm`,
    ...(cell.policy === "cfsrr1" ? ["cfsrr1"] : []),
  ].join("-");
}

/** e.g. 64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-cfsrr1-mrr */
export function testName(
  cell: Pick<CellSpec, "frame" | "vringSize" | "policy">,
  test: TestType,
  naming: NamingSpec,
): string {
  return `${cellBaseName(cell, naming)}-${test}`;
}

/** Every combination, in CSIT's order: frame, vring size, policy; each cell runs all tests. */
export function expandMatrix(matrix: {
  frames: readonly FrameSize[];
  vringSizes: readonly number[];
  policies: readonly CfsPolicy[];
  tests: readonly TestType[];
}): CellSpec[] {
  const cells: CellSpec[] = [];
  for (const frame of matrix.frames)
    for (const vringSize of matrix.vringSizes)
      for (const policy of matrix.policies)
        cells.push({ frame, vringSize, policy, tests: [...matrix.tests] });
  return cells;
}

/** Bytes of the largest frame of a cell (IMIX_v4_1 contains 1518 B frames). */
export function maxFrameBytes(frame: FrameSize): number {
  return frame === "IMIX_v4_1" ? 1518 : meanFrameBytes(frame);
}

// ---- validation --------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

class Checker {
  readonly problems: string[] = [];

  fail(path: string, message: string): void {
    this.problems.push(`${path}: ${message}`);
  }

  obj(value: unknown, path: string): Obj | undefined {
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Obj;
    this.fail(path, "must be an object");
    return undefined;
  }

  optObj(value: unknown, path: string): Obj {
    if (value === undefined) return {};
    return this.obj(value, path) ?? {};
  }

  str(o: Obj, key: string, path: string, fallback?: string): string {
    const v = o[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v === "string" && v.length > 0) return v;
    this.fail(`${path}.${key}`, v === undefined ? "is required" : "must be a non-empty string");
    return fallback ?? "";
  }

  optStr(o: Obj, key: string, path: string): string | undefined {
    if (o[key] === undefined) return undefined;
    return this.str(o, key, path);
  }

  num(
    o: Obj,
    key: string,
    path: string,
    rule: { fallback?: number; min?: number; max?: number; integer?: boolean; minExclusive?: boolean },
  ): number {
    const v = o[key];
    if (v === undefined && rule.fallback !== undefined) return rule.fallback;
    const where = `${path}.${key}`;
    if (typeof v !== "number" || !Number.isFinite(v)) {
      this.fail(where, v === undefined ? "is required" : "must be a finite number");
      return rule.fallback ?? 0;
    }
    if (rule.integer && !Number.isInteger(v)) this.fail(where, "must be a whole number");
    if (rule.min !== undefined && (rule.minExclusive ? v <= rule.min : v < rule.min)) {
      this.fail(where, `must be ${rule.minExclusive ? ">" : ">="} ${rule.min}`);
    }
    if (rule.max !== undefined && v > rule.max) this.fail(where, `must be <= ${rule.max}`);
    return v;
  }

  oneOf<T extends string>(value: unknown, allowed: readonly T[], path: string): T {
    if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
    this.fail(path, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`);
    return allowed[0] as T;
  }

  arr(value: unknown, path: string): unknown[] {
    if (Array.isArray(value)) return value;
    this.fail(path, "must be an array");
    return [];
  }

  cpuList(value: unknown, path: string): number[] {
    if (value === undefined) return [];
    const list = this.arr(value, path);
    return list.filter((v, i): v is number => {
      const ok = typeof v === "number" && Number.isInteger(v) && v >= 0;
      if (!ok) this.fail(`${path}[${i}]`, "must be a CPU id (whole number >= 0)");
      return ok;
    });
  }

  regex(o: Obj, key: string, path: string, fallback: string): string {
    const pattern = this.str(o, key, path, fallback);
    try {
      new RegExp(pattern);
    } catch (e) {
      this.fail(`${path}.${key}`, `not a valid regular expression: ${(e as Error).message}`);
    }
    return pattern;
  }
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const NETNS_RE = /^[A-Za-z0-9_.-]{1,64}$/;
/** A DNS name or an IPv4 address (what reaches a ZeroMQ tcp:// endpoint). */
const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/;

function parseFrame(c: Checker, value: unknown, path: string): FrameSize {
  try {
    if (typeof value === "number") return parseFrameSize(`${value}B`);
    if (typeof value === "string") return parseFrameSize(value);
  } catch (e) {
    c.fail(path, (e as Error).message);
    return 64;
  }
  c.fail(path, 'must be a frame size in bytes (64), a label ("64B") or "IMIX_v4_1"');
  return 64;
}

function parseHost(c: Checker, value: unknown, path: string): HostConnection {
  const o = c.obj(value, path) ?? {};
  const transport = c.oneOf(o.transport ?? "ssh", ["ssh", "local"] as const, `${path}.transport`);
  if (transport === "local") return { transport };
  const host: HostConnection = {
    transport,
    host: c.str(o, "host", path),
    port: c.num(o, "port", path, { fallback: 22, min: 1, max: 65535, integer: true }),
    user: c.str(o, "user", path, "root"),
    hostKey: "",
    readyTimeoutMs: c.num(o, "readyTimeoutMs", path, { fallback: 20000, min: 1000, integer: true }),
  };
  const key = c.optStr(o, "privateKey", path);
  const keyPath = c.optStr(o, "privateKeyPath", path);
  if ((key === undefined) === (keyPath === undefined)) {
    c.fail(path, "needs exactly one of privateKey and privateKeyPath");
  }
  if (key !== undefined) host.privateKey = key;
  if (keyPath !== undefined) host.privateKeyPath = keyPath;
  // The project's one rule (lib/lab/hostKey.ts); a missing key is refused like a wrong one.
  const rawKey = o.hostKey;
  if (rawKey !== undefined && typeof rawKey !== "string") {
    c.fail(`${path}.hostKey`, "must be a string: the public key line <type> <base64> [comment]");
  } else {
    const parsed = parseHostKey(rawKey ?? "", { host: host.host, port: host.port });
    if (parsed.ok) host.hostKey = parsed.line;
    else c.fail(`${path}.hostKey`, `${parsed.error}; fix: ${parsed.fix}`);
  }
  return host;
}

function parseSelector(
  c: Checker,
  value: unknown,
  path: string,
  label: string,
  pattern: string,
): ThreadSelector {
  const o = c.obj(value, path) ?? {};
  const sel: ThreadSelector = {
    label: c.str(o, "label", path, label),
    namePattern: c.regex(o, "namePattern", path, pattern),
  };
  if (o.pid !== undefined) sel.pid = c.num(o, "pid", path, { min: 1, integer: true });
  const pidFile = c.optStr(o, "pidFile", path);
  if (pidFile !== undefined) {
    if (!pidFile.startsWith("/")) c.fail(`${path}.pidFile`, "must be an absolute path");
    sel.pidFile = pidFile;
  }
  if ((sel.pid === undefined) === (sel.pidFile === undefined))
    c.fail(path, "needs exactly one of pid and pidFile");
  return sel;
}

const ABS_PATH = /^\/[A-Za-z0-9_./-]{1,200}$/;

function parseVmRing(c: Checker, value: unknown, path: string, stack: string): VmRingSpec {
  const o = c.obj(value, path) ?? {};
  const deployed = vring(c, o.deployed, `${path}.deployed`);
  const root = STACK_RE.test(stack) ? `${RUN_ROOT}/${stack}/` : `${RUN_ROOT}/`;
  const controls = c.arr(o.controls ?? [], `${path}.controls`).map((v, i) => {
    const p = typeof v === "string" ? v : "";
    if (!ABS_PATH.test(p) || p.includes("..") || !p.startsWith(root) || !p.endsWith("/ctl/vm-ring.sh"))
      c.fail(`${path}.controls[${i}]`, `must be a VM's ${root}<vm>/ctl/vm-ring.sh`);
    return p;
  });
  const spec: VmRingSpec = { deployed, controls };
  if (o.deployedPids !== undefined)
    spec.deployedPids = c
      .arr(o.deployedPids, `${path}.deployedPids`)
      .map((v, i) =>
        Number.isInteger(v) && (v as number) > 0
          ? (v as number)
          : (c.fail(`${path}.deployedPids[${i}]`, "must be a pid"), 0),
      );
  return spec;
}

function parseCounterSource(c: Checker, value: unknown, path: string): VswitchCounterSource | undefined {
  if (value === undefined) return undefined;
  const o = c.obj(value, path) ?? {};
  const kind = c.oneOf(o.kind, ["dpdk-telemetry", "ovs", "vpp", "none"] as const, `${path}.kind`);
  const path_ = (key: string): string => {
    const v = c.str(o, key, path);
    if (v && (!ABS_PATH.test(v) || v.includes(".."))) c.fail(`${path}.${key}`, "must be an absolute path");
    return v;
  };
  switch (kind) {
    case "dpdk-telemetry": {
      const prefix = c.str(o, "prefix", path);
      if (prefix && !/^[A-Za-z0-9_-]{1,48}$/.test(prefix))
        c.fail(`${path}.prefix`, "not a valid DPDK file-prefix");
      return { kind, prefix };
    }
    case "ovs": {
      const runDir = path_("runDir");
      const bridge = c.str(o, "bridge", path);
      if (bridge && !/^[a-z][a-z0-9_-]{0,14}$/.test(bridge)) c.fail(`${path}.bridge`, "not a bridge name");
      return { kind, runDir, bridge };
    }
    case "vpp":
      return { kind, cliSocket: path_("cliSocket") };
    case "none":
      return { kind };
  }
}

function parseTg(c: Checker, value: unknown, path: string): TgSpec {
  const o = c.obj(value, path) ?? {};
  const kind = c.oneOf(o.kind, ["trafgen", "trex"] as const, `${path}.kind`);
  const host = c.str(o, "host", path);
  if (kind === "trex") return parseTrex(c, o, path, host);
  const d = PLAN_DEFAULTS.trafgen;
  const tg: TrafgenSpec = {
    kind,
    host,
    netns: o.netns === "" ? "" : c.str(o, "netns", path, d.netns),
    txIf: c.str(o, "txIf", path, d.txIf),
    rxIf: c.str(o, "rxIf", path, d.rxIf),
    directions: o.directions === 2 ? 2 : 1,
    srcMac: c.str(o, "srcMac", path, d.srcMac),
    dstMac: c.str(o, "dstMac", path, d.dstMac),
    sources: c.num(o, "sources", path, { fallback: d.sources, min: 1, max: 254, integer: true }),
    settleS: c.num(o, "settleS", path, { fallback: d.settleS, min: 0, max: 10 }),
    trafgen: c.str(o, "trafgen", path, d.trafgen),
  };
  if (o.configDir !== undefined) {
    c.fail(
      `${path}.configDir`,
      "is no longer set by the plan: the trafgen files live in /run/vhost-perf-lab/<stack>/trafgen (remove the key)",
    );
  }
  if (tg.netns !== "" && !NETNS_RE.test(tg.netns)) c.fail(`${path}.netns`, "not a valid netns name");
  if (o.directions !== undefined && o.directions !== 1 && o.directions !== 2)
    c.fail(`${path}.directions`, "must be 1 (port 0 -> port 1) or 2 (both ways at once)");
  for (const key of ["txIf", "rxIf"] as const) {
    if (!IFNAME_RE.test(tg[key])) c.fail(`${path}.${key}`, "not a valid interface name (max 15 chars)");
  }
  if (tg.txIf === tg.rxIf) c.fail(path, "txIf and rxIf must differ");
  for (const key of ["srcMac", "dstMac"] as const) {
    if (!MAC_RE.test(tg[key])) c.fail(`${path}.${key}`, "must be a MAC address aa:bb:cc:dd:ee:ff");
  }
  return tg;
}

function parseTrex(c: Checker, o: Obj, path: string, host: string): TrexSpec {
  const d = PLAN_DEFAULTS.trex;
  const rpcHost = c.str(o, "rpcHost", path);
  if (!HOSTNAME_RE.test(rpcHost)) c.fail(`${path}.rpcHost`, "not a host name or IPv4 address");
  const portsValue = o.ports === undefined ? [...d.ports] : c.arr(o.ports, `${path}.ports`);
  const ports = portsValue.map((p, i) =>
    c.num({ [`ports[${i}]`]: p }, `ports[${i}]`, path, { min: 0, max: 15, integer: true }),
  );
  if (ports.length !== 2 || ports[0] === ports[1])
    c.fail(`${path}.ports`, "must be two different TRex port ids [sender of direction 0, its receiver]");
  let latency: TrexSpec["latency"] = null;
  if (o.latency !== null) {
    const l = o.latency === undefined ? {} : (c.obj(o.latency, `${path}.latency`) ?? {});
    const lp = `${path}.latency`;
    const fractionsValue =
      l.fractions === undefined ? [...d.latency.fractions] : c.arr(l.fractions, `${lp}.fractions`);
    latency = {
      fractions: fractionsValue.map((f, i) =>
        c.num({ [`fractions[${i}]`]: f }, `fractions[${i}]`, lp, { min: 0, max: 1 }),
      ),
      durationS: c.num(l, "durationS", lp, { fallback: d.latency.durationS, min: 0.1, max: 600 }),
      streamPps: c.num(l, "streamPps", lp, {
        fallback: d.latency.streamPps,
        min: 1,
        max: 1_000_000,
        integer: true,
      }),
    };
    if (latency.fractions.length === 0)
      c.fail(`${lp}.fractions`, "needs at least one level (or set latency: null)");
  }
  return {
    kind: "trex",
    host,
    rpcHost,
    rpcPort: c.num(o, "rpcPort", path, { fallback: d.rpcPort, min: 1, max: 65535, integer: true }),
    ports: [ports[0] ?? 0, ports[1] ?? 1],
    timeoutMs: c.num(o, "timeoutMs", path, { fallback: d.timeoutMs, min: 100, max: 600_000, integer: true }),
    forceAcquire: o.forceAcquire === true,
    latency,
  };
}

function parseTests(c: Checker, value: unknown, path: string): TestType[] {
  const list = c.arr(value, path).map((t, i) => c.oneOf(t, TEST_TYPES, `${path}[${i}]`));
  if (list.length === 0) c.fail(path, "needs at least one test type");
  if (new Set(list).size !== list.length) c.fail(path, "lists a test type twice");
  return list;
}

function parseCells(c: Checker, root: Obj): CellSpec[] {
  if ((root.cells === undefined) === (root.matrix === undefined)) {
    c.fail("plan", "needs exactly one of cells and matrix");
    return [];
  }
  if (root.matrix !== undefined) {
    const m = c.obj(root.matrix, "matrix") ?? {};
    const frames = c.arr(m.frames, "matrix.frames").map((f, i) => parseFrame(c, f, `matrix.frames[${i}]`));
    const vringSizes = c
      .arr(m.vringSizes, "matrix.vringSizes")
      .map((v, i) => vring(c, v, `matrix.vringSizes[${i}]`));
    const policies = c
      .arr(m.policies, "matrix.policies")
      .map((p, i) => c.oneOf(p, CFS_POLICIES, `matrix.policies[${i}]`));
    const tests = parseTests(c, m.tests, "matrix.tests");
    return expandMatrix({ frames, vringSizes, policies, tests });
  }
  return c.arr(root.cells, "cells").map((value, i) => {
    const path = `cells[${i}]`;
    const o = c.obj(value, path) ?? {};
    return {
      frame: parseFrame(c, o.frame, `${path}.frame`),
      vringSize: vring(c, o.vringSize ?? 1024, `${path}.vringSize`),
      policy: c.oneOf(o.policy, CFS_POLICIES, `${path}.policy`),
      tests: parseTests(c, o.tests, `${path}.tests`),
    };
  });
}

function vring(c: Checker, value: unknown, path: string): number {
  if (
    typeof value === "number" &&
    Number.isInteger(value) &&
    value >= 64 &&
    value <= 32768 &&
    (value & (value - 1)) === 0
  ) {
    return value;
  }
  c.fail(path, "vring size must be a power of two in 64..32768 (virtio: 256 or 1024 in CSIT)");
  return 1024;
}

/** Checks a parsed JSON value and returns the plan with every default filled in. */
export function parsePlan(value: unknown): BenchPlan {
  const c = new Checker();
  const root = c.obj(value, "plan") ?? {};
  if (root.version !== undefined && root.version !== 1) c.fail("plan.version", "only version 1 is known");
  const stack = typeof root.stack === "string" ? root.stack : "";
  if (root.stack === undefined)
    c.fail("plan.stack", "is required: the Pulumi stack name (pulumi.getStack())");
  else if (!STACK_RE.test(stack)) c.fail("plan.stack", "must be a stack name: [a-z0-9][a-z0-9-]{0,30}");

  const hostsObj = c.obj(root.hosts, "hosts") ?? {};
  const hosts: Record<string, HostConnection> = {};
  for (const [name, h] of Object.entries(hostsObj)) hosts[name] = parseHost(c, h, `hosts.${name}`);
  if (Object.keys(hosts).length === 0) c.fail("hosts", "needs at least one host");
  const knownHost = (name: string, path: string): void => {
    if (name && !(name in hosts))
      c.fail(path, `unknown host "${name}" (hosts: ${Object.keys(hosts).join(", ")})`);
  };

  const dutObj = c.obj(root.dut, "dut") ?? {};
  const dut: DutSpec = {
    host: c.str(dutObj, "host", "dut"),
    vswitch: parseSelector(c, dutObj.vswitch, "dut.vswitch", "vswitch", PLAN_DEFAULTS.vswitchPattern),
    vms: c
      .arr(dutObj.vms ?? [], "dut.vms")
      .map((v, i) => parseSelector(c, v, `dut.vms[${i}]`, `vm${i + 1}`, PLAN_DEFAULTS.vcpuPattern)),
    housekeepingCpus: c.cpuList(dutObj.housekeepingCpus, "dut.housekeepingCpus"),
  };
  const prefix = c.optStr(dutObj, "vswitchTelemetryPrefix", "dut");
  if (prefix !== undefined) {
    if (!/^[A-Za-z0-9_-]{1,48}$/.test(prefix))
      c.fail("dut.vswitchTelemetryPrefix", "not a valid DPDK file-prefix");
    dut.vswitchTelemetryPrefix = prefix;
  }
  const counters = parseCounterSource(c, dutObj.vswitchCounters, "dut.vswitchCounters");
  if (counters) dut.vswitchCounters = counters;
  else if (dut.vswitchTelemetryPrefix !== undefined)
    dut.vswitchCounters = { kind: "dpdk-telemetry", prefix: dut.vswitchTelemetryPrefix };
  knownHost(dut.host, "dut.host");
  if (dutObj.vmRing !== undefined) dut.vmRing = parseVmRing(c, dutObj.vmRing, "dut.vmRing", stack);

  const tg = parseTg(c, root.tg, "tg");
  knownHost(tg.host, "tg.host");

  const cells = parseCells(c, root);
  if (cells.length === 0 && c.problems.length === 0) c.fail("cells", "the plan has no cells");
  const rings = [...new Set(cells.map((cell) => cell.vringSize))];
  if (rings.length > 1 && dut.vmRing === undefined)
    c.fail(
      "dut.vmRing",
      `the cells have several vring sizes (${rings.join(", ")}) but the plan has no dut.vmRing to switch the VMs between them`,
    );
  if (dut.vmRing && dut.vmRing.controls.length !== dut.vms.length)
    c.fail("dut.vmRing.controls", `one control per VM (dut.vms has ${dut.vms.length})`);

  const mrrObj = c.optObj(root.mrr, "mrr");
  const mrr: MrrParams = {
    trials: c.num(mrrObj, "trials", "mrr", { fallback: PLAN_DEFAULTS.mrr.trials, min: 1, integer: true }),
    trialDurationS: c.num(mrrObj, "trialDurationS", "mrr", {
      fallback: PLAN_DEFAULTS.mrr.trialDurationS,
      min: 0,
      minExclusive: true,
    }),
    maxLoadPps: c.num(mrrObj, "maxLoadPps", "mrr", { min: 1 }),
  };

  const n = c.optObj(root.ndrpdr, "ndrpdr");
  const d = PLAN_DEFAULTS.ndrpdr;
  const ndrpdr: NdrPdrParams = {
    minLoadPps: c.num(n, "minLoadPps", "ndrpdr", { fallback: d.minLoadPps, min: 1 }),
    maxLoadPps: c.num(n, "maxLoadPps", "ndrpdr", { fallback: mrr.maxLoadPps, min: 1 }),
    trialDurationS: c.num(n, "trialDurationS", "ndrpdr", {
      fallback: d.trialDurationS,
      min: 0,
      minExclusive: true,
    }),
    durationSumS: c.num(n, "durationSumS", "ndrpdr", {
      fallback: d.durationSumS,
      min: 0,
      minExclusive: true,
    }),
    timeLimitS: c.num(n, "timeLimitS", "ndrpdr", { fallback: d.timeLimitS, min: 0, minExclusive: true }),
    relativeWidth: c.num(n, "relativeWidth", "ndrpdr", { fallback: d.relativeWidth, min: 1e-6, max: 0.5 }),
    exceedRatio: c.num(n, "exceedRatio", "ndrpdr", { fallback: d.exceedRatio, min: 0, max: 0.99 }),
    ndrLossRatio: c.num(n, "ndrLossRatio", "ndrpdr", { fallback: d.ndrLossRatio, min: 0, max: 0.99 }),
    pdrLossRatio: c.num(n, "pdrLossRatio", "ndrpdr", { fallback: d.pdrLossRatio, min: 0, max: 0.99 }),
    intermediatePhases: c.num(n, "intermediatePhases", "ndrpdr", {
      fallback: d.intermediatePhases,
      min: 0,
      max: 5,
      integer: true,
    }),
  };
  if (tg.kind === "trafgen") {
    // trafgen's -b rate control is per second: sub-second or fractional trials would be bursts.
    if (!Number.isInteger(mrr.trialDurationS))
      c.fail("mrr.trialDurationS", "must be whole seconds with trafgen");
    if (!Number.isInteger(ndrpdr.trialDurationS)) {
      c.fail("ndrpdr.trialDurationS", "must be whole seconds with trafgen");
    }
  }
  const needsSearch = cells.some((cell) => cell.tests.includes("ndrpdr"));
  if (needsSearch && ndrpdr.maxLoadPps < ndrpdr.minLoadPps) {
    c.fail("ndrpdr.maxLoadPps", "must be >= ndrpdr.minLoadPps");
  }
  if (ndrpdr.durationSumS < ndrpdr.trialDurationS)
    c.fail("ndrpdr.durationSumS", "must be >= ndrpdr.trialDurationS");
  if (ndrpdr.pdrLossRatio < ndrpdr.ndrLossRatio)
    c.fail("ndrpdr.pdrLossRatio", "must be >= ndrpdr.ndrLossRatio");

  const nm = c.optObj(root.naming, "naming");
  const naming: NamingSpec = {
    cores: c.num(nm, "cores", "naming", { fallback: PLAN_DEFAULTS.naming.cores, min: 1, integer: true }),
    nic: c.str(nm, "nic", "naming", PLAN_DEFAULTS.naming.nic),
    forwarding: c.str(nm, "forwarding", "naming", PLAN_DEFAULTS.naming.forwarding),
    vms: c.num(nm, "vms", "naming", { fallback: Math.max(1, dut.vms.length), min: 1, integer: true }),
    vhostPerVm: c.num(nm, "vhostPerVm", "naming", {
      fallback: PLAN_DEFAULTS.naming.vhostPerVm,
      min: 1,
      integer: true,
    }),
  };

  const s = c.optObj(root.sched, "sched");
  const sched: SchedSpec = {
    rtRuntimeBoundUs: c.num(s, "rtRuntimeBoundUs", "sched", {
      fallback: PLAN_DEFAULTS.sched.rtRuntimeBoundUs,
      min: 0,
      integer: true,
    }),
  };
  if (s.stateFile !== undefined) {
    c.fail(
      "sched.stateFile",
      "is no longer set by the plan: the scheduling record is /run/vhost-perf-lab/<stack>/sched.record (remove the key)",
    );
  }

  const facts = root.facts === undefined ? {} : (c.obj(root.facts, "facts") ?? {});
  const names = cells.map((cell) => `${cellBaseName(cell, naming)}`);
  const dup = names.find((name, i) => names.indexOf(name) !== i);
  if (dup) c.fail("cells", `two cells have the same name ${dup}`);

  if (c.problems.length > 0) throw new PlanError(c.problems);
  return {
    version: 1,
    name: typeof root.name === "string" && root.name ? root.name : "bench",
    stack,
    hosts,
    dut,
    tg,
    cells,
    mrr,
    ndrpdr,
    naming,
    sched,
    facts,
  };
}

/** Plan as printed into the output: no secrets. */
export function redactPlan(plan: BenchPlan): unknown {
  const hosts: Record<string, unknown> = {};
  for (const [name, h] of Object.entries(plan.hosts)) {
    hosts[name] =
      h.transport === "local"
        ? h
        : { transport: h.transport, host: h.host, port: h.port, user: h.user, hostKey: h.hostKey };
  }
  return { ...plan, hosts, cells: plan.cells.map((cell) => ({ ...cell, frame: frameLabel(cell.frame) })) };
}
