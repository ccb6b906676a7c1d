/**
 * cfsrr1 the CSIT way: every data-plane thread (vswitch workers, QEMU vCPUs) goes to SCHED_RR
 * priority 1 for the cell (`chrt -r -p 1 <tid>`) and back to what it was afterwards.
 *
 * The danger on a small host (DESIGN.md §4): busy-polling RR threads on every CPU starve the control
 * path (sshd, the runner's own SSH, trafgen) down to the 5 % that sched_rt_runtime_us leaves. So
 * before a cell the plan is checked: if the RR threads, given their affinity masks, could occupy
 * every online CPU at once, sched_rt_runtime_us is lowered for the cell and restored after.
 *
 * Before any change a record of it is written on the host ($run/sched.record: each thread's
 * original policy, the original RT runtime); every revert restores from that record with
 * scripts/sched-restore.sh, the same script the Benchmark's guard step runs at destroy, so even a
 * runner killed with SIGKILL leaves nothing that cannot be put back. Threads are always reverted
 * (try/finally in the runner), and a final sweep puts any thread of the lab's processes that is
 * still SCHED_RR/FIFO back to SCHED_OTHER.
 *
 * The decision logic is pure (planCfsrr1 & co.); SchedController does the I/O.
 */
import { AbortedError, abortReason, throwIfAborted } from "./abort";
import type { DutSpec, SchedSpec } from "./plan";
import { prepared, runChecked, shQuote, withEnv, type PreparedCommand, type RemoteExec } from "./remote";

export type SchedPolicyName =
  "SCHED_OTHER" | "SCHED_BATCH" | "SCHED_IDLE" | "SCHED_FIFO" | "SCHED_RR" | "SCHED_DEADLINE";

export interface SchedState {
  policy: SchedPolicyName;
  priority: number;
}

export interface ThreadInfo {
  pid: number;
  tid: number;
  comm: string;
  /** CPUs the thread may run on (Cpus_allowed_list) */
  cpus: number[];
  sched: SchedState;
}

// ---- parsing -----------------------------------------------------------------------------------

/** "0-3,8,10-11" -> [0,1,2,3,8,10,11] (sorted, unique). */
export function parseCpuList(text: string): number[] {
  const cpus = new Set<number>();
  const trimmed = text.trim();
  if (trimmed === "") return [];
  for (const part of trimmed.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`bad CPU list "${text}"`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw new Error(`bad CPU range "${part}" in "${text}"`);
    for (let cpu = from; cpu <= to; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/**
 * Parses `chrt -p <tid>`:
 *   pid 123's current scheduling policy: SCHED_RR|SCHED_RESET_ON_FORK
 *   pid 123's current scheduling priority: 1
 */
export function parseChrt(text: string): SchedState {
  const policy = /scheduling policy:\s*(SCHED_[A-Z]+)/.exec(text)?.[1];
  const priority = /scheduling priority:\s*(\d+)/.exec(text)?.[1];
  const known: readonly string[] = [
    "SCHED_OTHER",
    "SCHED_BATCH",
    "SCHED_IDLE",
    "SCHED_FIFO",
    "SCHED_RR",
    "SCHED_DEADLINE",
  ];
  if (policy === undefined || priority === undefined || !known.includes(policy)) {
    throw new Error(`cannot parse chrt output: ${JSON.stringify(text)}`);
  }
  return { policy: policy as SchedPolicyName, priority: Number(priority) };
}

export function isRealtime(state: SchedState): boolean {
  return state.policy === "SCHED_RR" || state.policy === "SCHED_FIFO";
}

export interface Snapshot {
  onlineCpus: number[];
  rtRuntimeUs: number;
  rtPeriodUs: number;
  /** per selector index: the resolved pid, or null when the process is not there */
  pids: (number | null)[];
  threads: ThreadInfo[];
}

/** Parses the output of snapshotScript (tab-separated records). */
export function parseSnapshot(text: string, selectorCount: number): Snapshot {
  let onlineCpus: number[] | undefined;
  let rtRuntimeUs: number | undefined;
  let rtPeriodUs: number | undefined;
  const pids: (number | null)[] = new Array<number | null>(selectorCount).fill(null);
  const threads: ThreadInfo[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const f = line.split("\t");
    switch (f[0]) {
      case "O":
        onlineCpus = parseCpuList(f[1] ?? "");
        break;
      case "R":
        rtRuntimeUs = Number(f[1]);
        rtPeriodUs = Number(f[2]);
        break;
      case "S": {
        const index = Number(f[1]);
        if (index >= 0 && index < selectorCount) pids[index] = f[2] === "-" ? null : Number(f[2]);
        break;
      }
      case "T": {
        // T pid tid cpus chrt-output(newlines as '|') comm  -- comm may contain spaces, not tabs
        if (f.length < 6) continue;
        let sched: SchedState;
        try {
          sched = parseChrt(f[4] ?? ""); // newlines were turned into '|'; the regexes do not mind
        } catch {
          continue; // the thread ended between listing and chrt
        }
        // two selectors may name the same process: each thread once
        if (threads.some((t) => t.tid === Number(f[2]))) continue;
        threads.push({
          pid: Number(f[1]),
          tid: Number(f[2]),
          cpus: parseCpuList(f[3] ?? ""),
          sched,
          comm: f.slice(5).join("\t"),
        });
        break;
      }
    }
  }
  if (!onlineCpus || rtRuntimeUs === undefined || rtPeriodUs === undefined || Number.isNaN(rtRuntimeUs)) {
    throw new Error(`incomplete scheduler snapshot: ${JSON.stringify(text.slice(0, 300))}`);
  }
  return { onlineCpus, rtRuntimeUs, rtPeriodUs, pids, threads };
}

// ---- decisions ---------------------------------------------------------------------------------

/**
 * How many CPUs the given threads can occupy at the same time, each thread on one CPU of its
 * affinity mask: a maximum bipartite matching (threads x CPUs), Kuhn's augmenting paths.
 */
export function maxSimultaneousCpus(
  affinities: readonly (readonly number[])[],
  onlineCpus: readonly number[],
): number {
  const online = new Set(onlineCpus);
  const cpuOwner = new Map<number, number>();
  const tryAssign = (thread: number, seen: Set<number>): boolean => {
    for (const cpu of affinities[thread] ?? []) {
      if (!online.has(cpu) || seen.has(cpu)) continue;
      seen.add(cpu);
      const owner = cpuOwner.get(cpu);
      if (owner === undefined || tryAssign(owner, seen)) {
        cpuOwner.set(cpu, thread);
        return true;
      }
    }
    return false;
  };
  let matched = 0;
  for (let thread = 0; thread < affinities.length; thread++) {
    if (cpuOwner.size === online.size) break;
    if (tryAssign(thread, new Set())) matched++;
  }
  return matched;
}

export interface Selection {
  label: string;
  pid: number;
  pattern: RegExp;
}

/** The data-plane threads: threads of each selected pid whose comm matches its pattern. */
export function selectThreads(
  threads: readonly ThreadInfo[],
  selections: readonly Selection[],
): ThreadInfo[] {
  const out: ThreadInfo[] = [];
  for (const sel of selections) {
    for (const t of threads) if (t.pid === sel.pid && sel.pattern.test(t.comm)) out.push(t);
  }
  return out;
}

export interface RtRuntimeDecision {
  currentUs: number;
  periodUs: number;
  /** value to write for the cell, or null to leave it */
  setUs: number | null;
  /** CPUs the RR threads could occupy at once, and the online CPU count */
  coverage: number;
  onlineCpus: number;
  reason: string;
}

export interface Cfsrr1Plan {
  targets: { thread: ThreadInfo; label: string }[];
  runtime: RtRuntimeDecision;
  warnings: string[];
}

export class SchedPlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SchedPlanError";
  }
}

/**
 * Which threads become RR 1 and whether sched_rt_runtime_us must be bounded. Invariant (tested):
 * if the RR threads could cover every online CPU, the cell runs with a finite runtime below the
 * period, so the control path always keeps some CPU time.
 */
/**
 * Busy pollers pinned together on one CPU: under SCHED_RR they take turns of a whole RR time
 * slice (sched_rr_timeslice_ms, 100 ms by default) instead of CFS's few milliseconds, so a
 * pipeline of them stalls. CSIT's cfsrr1 gives each its own core; say when a lab does not.
 */
export function sharedCpuWarnings(selected: readonly { thread: ThreadInfo; label: string }[]): string[] {
  const byCpu = new Map<number, string[]>();
  for (const { thread, label } of selected) {
    const only = thread.cpus.length === 1 ? thread.cpus[0] : undefined;
    if (only === undefined) continue;
    byCpu.set(only, [...(byCpu.get(only) ?? []), `${label} ${thread.tid} (${thread.comm})`]);
  }
  return [...byCpu.entries()]
    .filter(([, threads]) => threads.length > 1)
    .map(
      ([cpu, threads]) =>
        `cfsrr1: ${threads.length} data-plane threads share CPU ${cpu} (${threads.join(", ")}): as SCHED_RR they ` +
        "take turns of a whole RR time slice (sched_rr_timeslice_ms), so this cell measures that time-slicing, " +
        "not CSIT's one-core-per-thread cfsrr1",
    );
}

export function planCfsrr1(input: {
  selected: readonly { thread: ThreadInfo; label: string }[];
  onlineCpus: readonly number[];
  rtRuntimeUs: number;
  rtPeriodUs: number;
  boundUs: number;
  housekeepingCpus?: readonly number[];
}): Cfsrr1Plan {
  const { selected, onlineCpus, rtRuntimeUs, rtPeriodUs, boundUs } = input;
  if (selected.length === 0) {
    throw new SchedPlanError(
      "cfsrr1: no data-plane threads found (check the thread selectors and that the processes run)",
    );
  }
  if (!(rtPeriodUs > 0)) throw new SchedPlanError(`cfsrr1: bad sched_rt_period_us ${rtPeriodUs}`);
  if (!(boundUs >= 0 && boundUs < rtPeriodUs)) {
    throw new SchedPlanError(
      `cfsrr1: the RT runtime bound (${boundUs} us) must be below sched_rt_period_us (${rtPeriodUs} us)`,
    );
  }
  const warnings: string[] = [];
  const coverage = maxSimultaneousCpus(
    selected.map((s) => s.thread.cpus),
    onlineCpus,
  );
  const unbounded = rtRuntimeUs < 0 || rtRuntimeUs >= rtPeriodUs;
  let setUs: number | null = null;
  let reason: string;
  if (coverage < onlineCpus.length) {
    reason = `RR threads can occupy at most ${coverage} of ${onlineCpus.length} CPUs: runtime left as is`;
  } else if (unbounded || rtRuntimeUs > boundUs) {
    setUs = boundUs;
    reason = `RR threads could occupy all ${onlineCpus.length} CPUs: RT runtime bounded to ${boundUs}/${rtPeriodUs} us for the cell`;
  } else {
    reason = `RR threads could occupy all ${onlineCpus.length} CPUs; runtime ${rtRuntimeUs}/${rtPeriodUs} us is already within the bound`;
  }
  const housekeeping = new Set(input.housekeepingCpus ?? []);
  for (const { thread, label } of selected) {
    const onHk = thread.cpus.filter((cpu) => housekeeping.has(cpu));
    if (onHk.length > 0) {
      warnings.push(
        `${label} thread ${thread.tid} (${thread.comm}) may run on housekeeping CPU ${onHk.join(",")} while SCHED_RR`,
      );
    }
  }
  if (coverage >= onlineCpus.length) warnings.push(reason);
  warnings.push(...sharedCpuWarnings(selected));
  return {
    targets: [...selected],
    runtime: {
      currentUs: rtRuntimeUs,
      periodUs: rtPeriodUs,
      setUs,
      coverage,
      onlineCpus: onlineCpus.length,
      reason,
    },
    warnings,
  };
}

// ---- scripts -----------------------------------------------------------------------------------

export interface PidSource {
  pid?: number;
  pidFile?: string;
}

/** Shell that prints online CPUs, RT runtime/period, the pids and every thread of them. */
export function snapshotScript(sources: readonly PidSource[]): string {
  const lines = [
    "set -u",
    `printf 'O\\t%s\\n' "$(cat /sys/devices/system/cpu/online)"`,
    `printf 'R\\t%s\\t%s\\n' "$(cat /proc/sys/kernel/sched_rt_runtime_us)" "$(cat /proc/sys/kernel/sched_rt_period_us)"`,
    "sel() {",
    '  local idx="$1" pid="$2" t tid comm cpus pol',
    '  if [ -z "$pid" ] || [ ! -d "/proc/$pid/task" ]; then printf \'S\\t%s\\t-\\n\' "$idx"; return 0; fi',
    '  printf \'S\\t%s\\t%s\\n\' "$idx" "$pid"',
    '  for t in /proc/"$pid"/task/*; do',
    '    tid="${t##*/}"',
    '    comm="$(cat "$t/comm" 2>/dev/null)" || continue',
    '    cpus="$(awk \'/^Cpus_allowed_list/ {print $2}\' "$t/status" 2>/dev/null)"',
    "    pol=\"$(chrt -p \"$tid\" 2>/dev/null | tr '\\n' '|')\" || continue",
    '    printf \'T\\t%s\\t%s\\t%s\\t%s\\t%s\\n\' "$pid" "$tid" "$cpus" "$pol" "$comm"',
    "  done",
    "}",
  ];
  sources.forEach((src, index) => lines.push(`sel ${index} ${pidWord(src)}`));
  return lines.join("\n") + "\n";
}

/**
 * Root RT cgroup runtime files (cgroup v1 cpu controller). With CONFIG_RT_GROUP_SCHED the kernel
 * refuses (EINVAL) a global sched_rt_runtime_us below what the root group keeps, so that one is
 * lowered first and restored last. (Seen here: kernel 6.18 with RT_GROUP_SCHED=y.) The same list
 * is in scripts/sched-restore.sh, which refuses a record naming any other file.
 */
export const RT_CGROUP_FILES = [
  "/sys/fs/cgroup/cpu/cpu.rt_runtime_us",
  "/sys/fs/cgroup/cpu,cpuacct/cpu.rt_runtime_us",
];

/** First line of a scheduling record (scripts/sched-restore.sh knows this version). */
export const SCHED_RECORD_HEADER = "vhost-perf-lab-sched-record 1";

/**
 * Shell for one cell's cfsrr1. BEFORE anything changes it writes the scheduling record (every
 * target thread with its original policy, priority and start time; the RT runtime settings it
 * is about to lower) to a temporary file and renames it into place, so a runner killed at any
 * point leaves either no change or a record of every change (scripts/sched-restore.sh puts it
 * back). Then: lower the root RT group, then the sysctl (if the plan bounds the runtime), then RR 1
 * per live thread. Refuses to run while an earlier record is still there (not reverted).
 */
export function applyScript(plan: Cfsrr1Plan, recordPath: string): string {
  const rec = shQuote(recordPath);
  const bound = plan.runtime.setUs;
  const lines = [
    "set -eu",
    `rec=${rec}`,
    'if [ -e "$rec" ]; then echo "cfsrr1: $rec is still there: an earlier change was not reverted (scripts/sched-restore.sh restore)" >&2; exit 4; fi',
    'mkdir -p "${rec%/*}"',
    'tmp="$rec.tmp.$$"',
    // start time of a thread (field 22 of its stat), so a restore never touches a reused TID
    'start_time() { local s f; s=$(cat "/proc/$1/task/$2/stat" 2>/dev/null) || return 1; s=${s##*) }; read -r -a f <<<"$s"; printf \'%s\' "${f[19]}"; }',
    'rec_thread() { local st; st=$(start_time "$1" "$2") || return 0; printf \'thread %s %s %s %s %s\\n\' "$1" "$2" "$st" "$3" "$4"; }',
    'cg=""',
  ];
  if (bound !== null) {
    lines.push(
      `for c in ${RT_CGROUP_FILES.map(shQuote).join(" ")}; do if [ -w "$c" ]; then cg="$c"; break; fi; done`,
    );
  }
  lines.push("{", `  echo ${shQuote(SCHED_RECORD_HEADER)}`);
  if (bound !== null) {
    lines.push(
      '  echo "runtime sysctl $(cat /proc/sys/kernel/sched_rt_runtime_us)"',
      '  if [ -n "$cg" ]; then echo "runtime cgroup $cg $(cat "$cg")"; fi',
    );
  }
  for (const { thread } of plan.targets) {
    lines.push(`  rec_thread ${thread.pid} ${thread.tid} ${thread.sched.policy} ${thread.sched.priority}`);
  }
  lines.push('} >"$tmp"', 'mv -f "$tmp" "$rec"', "# from here on every change is in the record");
  if (bound !== null) {
    lines.push(
      `if [ -n "$cg" ] && [ "$(cat "$cg")" -gt ${bound} ]; then echo ${bound} > "$cg"; fi`,
      `echo ${bound} > /proc/sys/kernel/sched_rt_runtime_us`,
    );
  }
  for (const { thread } of plan.targets) {
    lines.push(
      `if [ -d /proc/${thread.pid}/task/${thread.tid} ]; then chrt -r -p 1 ${thread.tid}; else echo "gone ${thread.tid}"; fi`,
    );
  }
  return lines.join("\n") + "\n";
}

/** `LAB_RUN_DIR=<run dir> bash -s -- <verb>`: scripts/sched-restore.sh, shipped on stdin. */
export function restoreCommand(runDir: string, verb: "restore" | "stop-trial" | "check" | "down"): string {
  return withEnv({ LAB_RUN_DIR: runDir }, `bash -s -- ${verb}`);
}

/** The JSON line of `sched-restore.sh restore`. */
export interface RestoreResult {
  record: string;
  found: boolean;
  threads: { restored: number; gone: number };
  failed: number;
  rtRuntimeUs: number | null;
  cgroupRtRuntimeUs: number | null;
}

/** Runs `sched-restore.sh restore` on a host; throws (with the script's messages) unless it all went back. */
export async function runRestore(
  exec: RemoteExec,
  runDir: string,
  script: string,
  timeoutMs = 15000,
): Promise<RestoreResult> {
  const r = await exec.run(restoreCommand(runDir, "restore"), { stdin: script, timeoutMs });
  const last = r.stdout.trim().split("\n").pop() ?? "";
  let parsed: RestoreResult | undefined;
  try {
    parsed = JSON.parse(last) as RestoreResult;
  } catch {
    parsed = undefined;
  }
  if (r.code !== 0 || !parsed) {
    const why = r.timedOut ? "timed out" : `exit ${r.code ?? "by signal"}`;
    throw new Error(
      `${exec.name}: sched-restore.sh restore failed (${why}): ${(r.stderr.trim() || r.stdout.trim()).split("\n").slice(-4).join(" | ")}; ` +
        `the record ${runDir}/sched.record stays: \`pulumi destroy\`, the next run, or ` +
        `\`LAB_RUN_DIR=${runDir} bash scripts/sched-restore.sh restore\` on the host puts it back`,
    );
  }
  return parsed;
}

/** One line for the report about what a restore put back, or null when there was no record. */
export function describeRestore(r: RestoreResult): string | null {
  if (!r.found) return null;
  const runtime = r.rtRuntimeUs === null ? "" : `, sched_rt_runtime_us back to ${r.rtRuntimeUs}`;
  const gone = r.threads.gone > 0 ? ` (${r.threads.gone} gone)` : "";
  return `${r.threads.restored} thread(s) back to their policy${gone}${runtime}`;
}

/** The shell word that names a source's pid (a pidfile is read on the host, at that moment). */
function pidWord(src: PidSource): string {
  return src.pid !== undefined
    ? String(src.pid)
    : `"$(tr -dc 0-9 < ${shQuote(src.pidFile ?? "/nonexistent")} 2>/dev/null)"`;
}

/**
 * Shell lines that demote every RR/FIFO thread of the sources' processes to SCHED_OTHER and print
 * "swept<TAB>tid<TAB>comm" per thread; a failure sets rc=1 (the caller's variable).
 */
export function sweepLines(sources: readonly PidSource[]): string[] {
  // builtins only (field 41 of a thread's stat is its policy: 1 FIFO, 2 RR): this runs while RR
  // pollers may hold CPUs, and within an interrupt's 3 s
  return [
    "sweep_pid() {",
    '  local t s c; local -a f; [ -n "$1" ] || return 0',
    '  for t in /proc/"$1"/task/*; do',
    '    { IFS= read -r s <"$t/stat"; } 2>/dev/null || continue',
    '    read -r -a f <<<"${s##*) }"',
    '    case "${f[38]:-0}" in 1 | 2) ;; *) continue ;; esac',
    '    { IFS= read -r c <"$t/comm"; } 2>/dev/null || c="?"',
    `    if chrt -o -p 0 "\${t##*/}"; then printf 'swept\\t%s\\t%s\\n' "\${t##*/}" "$c"; else rc=1; fi`,
    "  done",
    "}",
    ...sources.map((src) => `sweep_pid ${pidWord(src)}`),
  ];
}

/** Shell that demotes every RR/FIFO thread of the sources' processes to SCHED_OTHER; prints what it swept. */
export function sweepScript(sources: readonly PidSource[]): string {
  return ["set -u", "rc=0", ...sweepLines(sources), "exit $rc"].join("\n") + "\n";
}

const HEREDOC = "__VPL_SCHED_RESTORE_EOF__";

/**
 * ONE command that puts a host back (one round trip: an SSH command can cost seconds, and an
 * interrupt has 3 s): scripts/sched-restore.sh <verb> from the record, then the sweep of the lab's
 * processes. The script travels inside this one, as a quoted here-document.
 */
export function restoreAndSweepScript(
  runDir: string,
  restoreScript: string,
  verb: "restore" | "down",
  sources: readonly PidSource[],
): string {
  if (restoreScript.split("\n").includes(HEREDOC)) throw new Error(`sched-restore.sh contains ${HEREDOC}`);
  return (
    [
      "set -u",
      "rc=0",
      `${restoreCommand(runDir, verb)} <<'${HEREDOC}' || rc=$?`,
      restoreScript.replace(/\n$/, ""),
      HEREDOC,
      ...sweepLines(sources),
      "exit $rc",
    ].join("\n") + "\n"
  );
}

/** What restoreAndSweepScript printed: the restore's JSON line and the swept threads. */
export function parseRestoreAndSweep(stdout: string): { restore: RestoreResult | null; swept: string[] } {
  let restore: RestoreResult | null = null;
  const swept: string[] = [];
  for (const line of stdout.split("\n")) {
    if (line.startsWith('{"verb":')) {
      try {
        restore = JSON.parse(line) as RestoreResult;
      } catch {
        restore = null;
      }
    } else if (line.startsWith("swept\t")) {
      const [, tid, comm] = line.split("\t");
      swept.push(`sweep: thread ${tid} (${comm}) was still SCHED_RR/FIFO, set to SCHED_OTHER`);
    }
  }
  return { restore, swept };
}

// ---- I/O ---------------------------------------------------------------------------------------

export interface AppliedCfsrr1 {
  plan: Cfsrr1Plan;
}

export interface CellSchedReport {
  rtThreads: { label: string; pid: number; tid: number; comm: string; cpus: number[]; before: string }[];
  rtRuntimeUs: { before: number; during: number; periodUs: number; coverage: number; onlineCpus: number };
  reason: string;
}

export function cellSchedReport(applied: AppliedCfsrr1): CellSchedReport {
  const rt = applied.plan.runtime;
  return {
    rtThreads: applied.plan.targets.map(({ thread, label }) => ({
      label,
      pid: thread.pid,
      tid: thread.tid,
      comm: thread.comm,
      cpus: thread.cpus,
      before: `${thread.sched.policy}/${thread.sched.priority}`,
    })),
    rtRuntimeUs: {
      before: rt.currentUs,
      during: rt.setUs ?? rt.currentUs,
      periodUs: rt.periodUs,
      coverage: rt.coverage,
      onlineCpus: rt.onlineCpus,
    },
    reason: rt.reason,
  };
}

export interface SchedControllerOptions {
  /** the stack's run directory on the DUT; the record is <runDir>/sched.record */
  runDir: string;
  /** scripts/sched-restore.sh, shipped on stdin for every restore */
  restoreScript: string;
  /** once aborted, no further change is made (a restore may still run) */
  signal?: AbortSignal;
}

/**
 * Scheduling changes on the DUT. Every change and every restore runs one at a time (a queue), and
 * after close() no change runs any more: an interrupt that lands while a change is being planned
 * can never apply it after the restore.
 */
export class SchedController {
  private readonly sources: PidSource[];
  private readonly labels: string[];
  private readonly patterns: RegExp[];
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** the final restore, started ahead: an interrupt only has to feed it (see close()) */
  private readonly finalRestore: PreparedCommand;

  constructor(
    private readonly exec: RemoteExec,
    private readonly dut: DutSpec,
    private readonly sched: SchedSpec,
    private readonly options: SchedControllerOptions,
  ) {
    const selectors = [dut.vswitch, ...dut.vms];
    this.sources = selectors.map((s) =>
      s.pid !== undefined ? { pid: s.pid } : { pidFile: s.pidFile as string },
    );
    this.labels = selectors.map((s) => s.label);
    this.patterns = selectors.map((s) => new RegExp(s.namePattern));
    this.finalRestore = prepared(exec, "bash -s");
  }

  get recordPath(): string {
    return `${this.options.runDir}/sched.record`;
  }

  /** Runs `fn` after everything queued before it, alone. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  async snapshot(): Promise<Snapshot> {
    const result = await runChecked(this.exec, "scheduler snapshot", "bash -s", {
      stdin: snapshotScript(this.sources),
      timeoutMs: 30000,
    });
    return parseSnapshot(result.stdout, this.sources.length);
  }

  /** Labels of selectors whose process is not running. */
  missing(snapshot: Snapshot): string[] {
    return this.labels.filter((_, i) => snapshot.pids[i] === null);
  }

  private selections(snapshot: Snapshot): Selection[] {
    const out: Selection[] = [];
    snapshot.pids.forEach((pid, i) => {
      if (pid !== null)
        out.push({ pid, label: this.labels[i] as string, pattern: this.patterns[i] as RegExp });
    });
    return out;
  }

  /**
   * Applies cfsrr1 (record first, then the changes). `onPlanned` is called right before the
   * change: from then on the caller owns a revert, also when apply fails half-way.
   */
  async apply(
    onPlanned: (applied: AppliedCfsrr1) => void,
  ): Promise<{ applied: AppliedCfsrr1; warnings: string[] }> {
    throwIfAborted(this.options.signal);
    const snap = await this.snapshot();
    const selections = this.selections(snap);
    const selected: { thread: ThreadInfo; label: string }[] = [];
    for (const sel of selections) {
      for (const thread of selectThreads(snap.threads, [sel])) selected.push({ thread, label: sel.label });
    }
    const plan = planCfsrr1({
      selected,
      onlineCpus: snap.onlineCpus,
      rtRuntimeUs: snap.rtRuntimeUs,
      rtPeriodUs: snap.rtPeriodUs,
      boundUs: this.sched.rtRuntimeBoundUs,
      housekeepingCpus: this.dut.housekeepingCpus,
    });
    const warnings = [...plan.warnings];
    const missing = this.missing(snap);
    if (missing.length > 0) warnings.push(`cfsrr1: not running, so not RR: ${missing.join(", ")}`);
    const applied: AppliedCfsrr1 = { plan };
    await this.serial(async () => {
      if (this.closed) throw new AbortedError(abortReason(this.options.signal));
      throwIfAborted(this.options.signal);
      onPlanned(applied); // from here on the caller owns the revert
      await runChecked(this.exec, "cfsrr1 apply (record, then chrt -r -p 1)", "bash -s", {
        stdin: applyScript(plan, this.recordPath),
        timeoutMs: 30000,
      });
    });
    // Verify: every target still alive must now be RR 1.
    const after = await this.snapshot();
    const byTid = new Map(after.threads.map((t) => [t.tid, t]));
    for (const { thread, label } of plan.targets) {
      const now = byTid.get(thread.tid);
      if (!now) warnings.push(`cfsrr1: ${label} thread ${thread.tid} ended during apply`);
      else if (now.sched.policy !== "SCHED_RR" || now.sched.priority !== 1) {
        throw new Error(
          `cfsrr1: thread ${thread.tid} is ${now.sched.policy}/${now.sched.priority} after chrt -r -p 1`,
        );
      }
    }
    return { applied, warnings };
  }

  /**
   * One round trip: restores from the record (threads, then the RT runtime), then sweeps the lab's
   * processes. Throws when the record could not be fully restored (it stays on the host).
   */
  private async restoreAndSweep(
    via?: PreparedCommand,
  ): Promise<{ restore: RestoreResult | null; notes: string[] }> {
    const options = {
      stdin: restoreAndSweepScript(this.options.runDir, this.options.restoreScript, "restore", this.sources),
      timeoutMs: 30000,
    };
    const r = await (via ? via.run(options) : this.exec.run("bash -s", options));
    const { restore, swept } = parseRestoreAndSweep(r.stdout);
    if (r.code !== 0 || restore === null) {
      const why = r.timedOut ? "timed out" : `exit ${r.code ?? "by signal"}`;
      const detail = (r.stderr.trim() || r.stdout.trim()).split("\n").slice(-4).join(" | ");
      throw new Error(
        `reverting cfsrr1 failed on ${this.exec.name} (${why}): ${detail}; the record ${this.recordPath} ` +
          "stays: `pulumi destroy` (the Benchmark's guard step), the next run, or " +
          `\`LAB_RUN_DIR=${this.options.runDir} bash scripts/sched-restore.sh restore\` on the host puts it back`,
      );
    }
    return { restore, notes: swept };
  }

  /** Reverts a cell's cfsrr1 (from the record), sweeps the lab's processes. Reports what it did. */
  revert(via?: PreparedCommand): Promise<string[]> {
    return this.serial(async () => {
      const { restore, notes } = await this.restoreAndSweep(via);
      const line = restore ? describeRestore(restore) : null;
      return line === null ? notes : [`restored from ${this.recordPath}: ${line}`, ...notes];
    });
  }

  /**
   * The end of the run, also when interrupted: no change runs after this (one in flight finishes
   * first); whatever the record lists goes back, and no thread of the lab's processes stays RR/FIFO.
   * It runs in the command started with the controller: no login shell to wait for.
   */
  close(): Promise<string[]> {
    this.closed = true;
    return this.revert(this.finalRestore);
  }

  /**
   * Start of a run: a record left by a run that was killed (or could not restore) is restored
   * before anything else, and the lab's processes are swept.
   */
  recover(): Promise<string[]> {
    return this.serial(async () => {
      const { restore, notes } = await this.restoreAndSweep();
      const line = restore ? describeRestore(restore) : null;
      return line === null
        ? notes
        : [`a previous run left scheduling changes (${this.recordPath}): ${line}`, ...notes];
    });
  }
}
