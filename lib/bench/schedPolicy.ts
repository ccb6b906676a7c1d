/**
 * cfsrr1 the CSIT way: every data-plane thread (vswitch workers, QEMU vCPUs) goes to SCHED_RR
 * priority 1 for the cell (`chrt -r -p 1 <tid>`) and back to what it was afterwards.
 *
 * The danger on a small host (DESIGN.md §4): busy-polling RR threads on every CPU starve the control
 * path (sshd, the runner's own SSH, trafgen) down to the 5 % that sched_rt_runtime_us leaves. So
 * before a cell the plan is checked: if the RR threads, given their affinity masks, could occupy
 * every online CPU at once, sched_rt_runtime_us is lowered for the cell and restored after. Threads
 * are always reverted (try/finally in the runner), and a final sweep puts any thread of the lab's
 * processes that is still SCHED_RR/FIFO back to SCHED_OTHER.
 *
 * The decision logic is pure (planCfsrr1 & co.); SchedController does the I/O.
 */
import type { DutSpec, SchedSpec } from "./plan";
import { runChecked, shQuote, type RemoteExec } from "./remote";

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

/** chrt arguments that put a thread back into `state` (used as `chrt <args> <tid>`). */
export function chrtRestoreArgs(state: SchedState): string[] {
  switch (state.policy) {
    case "SCHED_OTHER":
      return ["-o", "-p", "0"];
    case "SCHED_BATCH":
      return ["-b", "-p", "0"];
    case "SCHED_IDLE":
      return ["-i", "-p", "0"];
    case "SCHED_FIFO":
      return ["-f", "-p", String(state.priority)];
    case "SCHED_RR":
      return ["-r", "-p", String(state.priority)];
    case "SCHED_DEADLINE":
      // Deadline parameters are not recoverable from chrt -p; CFS is the safe place to return to.
      return ["-o", "-p", "0"];
  }
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
  sources.forEach((src, index) => {
    if (src.pid !== undefined) lines.push(`sel ${index} ${src.pid}`);
    else lines.push(`sel ${index} "$(tr -dc 0-9 < ${shQuote(src.pidFile ?? "/nonexistent")} 2>/dev/null)"`);
  });
  return lines.join("\n") + "\n";
}

/**
 * Root RT cgroup runtime files (cgroup v1 cpu controller). With CONFIG_RT_GROUP_SCHED the kernel
 * refuses (EINVAL) a global sched_rt_runtime_us below what the root group keeps, so that one is
 * lowered first and restored last. (Seen here: kernel 6.18 with RT_GROUP_SCHED=y.)
 */
export const RT_CGROUP_FILES = [
  "/sys/fs/cgroup/cpu/cpu.rt_runtime_us",
  "/sys/fs/cgroup/cpu,cpuacct/cpu.rt_runtime_us",
];

/**
 * Shell that puts the parked RT runtime settings back (global sysctl first, then the root group)
 * and removes the state file; prints "restored <kind> <value>" per setting.
 */
export function restoreRuntimeScript(stateFile: string): string {
  const f = shQuote(stateFile);
  return (
    [
      "set -u",
      "rc=0",
      `if [ -e ${f} ]; then`,
      "  while read -r kind a b; do",
      '    case "$kind" in',
      '    sysctl) echo "$a" > /proc/sys/kernel/sched_rt_runtime_us && echo "restored sysctl $a" || rc=1 ;;',
      '    cgroup) echo "$b" > "$a" && echo "restored cgroup $b" || rc=1 ;;',
      "    esac",
      `  done < ${f}`,
      `  [ "$rc" = 0 ] && rm -f ${f}`,
      "fi",
      "exit $rc",
    ].join("\n") + "\n"
  );
}

/** Shell for one cell's cfsrr1: park the original runtime, bound it if needed, then RR 1 per thread. */
export function applyScript(plan: Cfsrr1Plan, stateFile: string): string {
  const lines = ["set -eu"];
  const bound = plan.runtime.setUs;
  if (bound !== null) {
    const f = shQuote(stateFile);
    lines.push(
      'cg=""',
      `for c in ${RT_CGROUP_FILES.map(shQuote).join(" ")}; do if [ -w "$c" ]; then cg="$c"; break; fi; done`,
      // Park the originals once: a state file left by an earlier cell or run holds the true ones.
      `if [ ! -e ${f} ]; then mkdir -p "$(dirname ${f})"; { echo "sysctl $(cat /proc/sys/kernel/sched_rt_runtime_us)"; if [ -n "$cg" ]; then echo "cgroup $cg $(cat "$cg")"; fi; } > ${f}; fi`,
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

/** Shell that puts every target back where it was; tolerant of threads that have ended. */
export function revertScript(plan: Cfsrr1Plan): string {
  const lines = ["set -u", "rc=0"];
  for (const { thread } of plan.targets) {
    const args = chrtRestoreArgs(thread.sched).join(" ");
    lines.push(
      `if [ -d /proc/${thread.pid}/task/${thread.tid} ]; then chrt ${args} ${thread.tid} || rc=1; else echo "gone ${thread.tid}"; fi`,
    );
  }
  lines.push("exit $rc");
  return lines.join("\n") + "\n";
}

/** Shell that demotes every RR/FIFO thread of the given pids to SCHED_OTHER; prints what it swept. */
export function sweepScript(pids: readonly number[]): string {
  const lines = ["set -u", "rc=0"];
  for (const pid of pids) {
    lines.push(
      `for t in /proc/${pid}/task/*; do [ -d "$t" ] || continue; tid="\${t##*/}";` +
        ` if chrt -p "$tid" 2>/dev/null | grep -qE 'SCHED_(RR|FIFO)'; then` +
        ` chrt -o -p 0 "$tid" && printf 'swept\\t%s\\t%s\\n' "$tid" "$(cat "$t/comm" 2>/dev/null)" || rc=1; fi; done`,
    );
  }
  lines.push("exit $rc");
  return lines.join("\n") + "\n";
}

// ---- I/O ---------------------------------------------------------------------------------------

export interface AppliedCfsrr1 {
  plan: Cfsrr1Plan;
  /** every pid of the lab found at apply time (for the sweep) */
  labPids: number[];
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

export class SchedController {
  private readonly sources: PidSource[];
  private readonly labels: string[];
  private readonly patterns: RegExp[];

  constructor(
    private readonly exec: RemoteExec,
    private readonly dut: DutSpec,
    private readonly sched: SchedSpec,
  ) {
    const selectors = [dut.vswitch, ...dut.vms];
    this.sources = selectors.map((s) =>
      s.pid !== undefined ? { pid: s.pid } : { pidFile: s.pidFile as string },
    );
    this.labels = selectors.map((s) => s.label);
    this.patterns = selectors.map((s) => new RegExp(s.namePattern));
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

  /** Applies cfsrr1. On a failure half-way the returned record is still complete: revert it. */
  async apply(
    onPlanned: (applied: AppliedCfsrr1) => void,
  ): Promise<{ applied: AppliedCfsrr1; warnings: string[] }> {
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
    const applied: AppliedCfsrr1 = { plan, labPids: selections.map((s) => s.pid) };
    onPlanned(applied); // from here on the caller owns the revert
    await runChecked(this.exec, "cfsrr1 apply (chrt -r -p 1)", "bash -s", {
      stdin: applyScript(plan, this.sched.stateFile),
      timeoutMs: 30000,
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

  /** Reverts threads, sweeps the lab's processes, restores the RT runtime. Reports what it did. */
  async revert(applied: AppliedCfsrr1): Promise<string[]> {
    const notes: string[] = [];
    const errors: string[] = [];
    const threads = await this.exec.run("bash -s", { stdin: revertScript(applied.plan), timeoutMs: 30000 });
    if (threads.code !== 0) errors.push(`thread revert: ${threads.stderr.trim() || threads.stdout.trim()}`);
    try {
      notes.push(...(await this.sweep(applied.labPids)));
    } catch (e) {
      errors.push((e as Error).message);
    }
    // Always: a half-done apply may have parked and lowered the runtime before failing.
    const restore = await this.exec.run("bash -s", {
      stdin: restoreRuntimeScript(this.sched.stateFile),
      timeoutMs: 30000,
    });
    if (restore.code !== 0) errors.push(`sched_rt_runtime_us restore: ${restore.stderr.trim()}`);
    if (errors.length > 0)
      throw new Error(`reverting cfsrr1 failed on ${this.exec.name}: ${errors.join("; ")}`);
    return notes;
  }

  /** Every thread of these pids that is RR/FIFO goes back to SCHED_OTHER. Returns what was swept. */
  async sweep(pids?: readonly number[]): Promise<string[]> {
    let list = pids ? [...pids] : [];
    if (!pids) {
      const snap = await this.snapshot();
      list = snap.pids.filter((p): p is number => p !== null);
    }
    if (list.length === 0) return [];
    const result = await runChecked(this.exec, "RT sweep", "bash -s", {
      stdin: sweepScript(list),
      timeoutMs: 30000,
    });
    return result.stdout
      .split("\n")
      .filter((l) => l.startsWith("swept\t"))
      .map((l) => {
        const [, tid, comm] = l.split("\t");
        return `sweep: thread ${tid} (${comm}) was still SCHED_RR/FIFO, set to SCHED_OTHER`;
      });
  }

  /**
   * Start-of-run recovery from a run that died hard: restore a parked sched_rt_runtime_us and
   * sweep the lab's processes.
   */
  async recover(): Promise<string[]> {
    const notes: string[] = [];
    const result = await runChecked(this.exec, "RT runtime recovery", "bash -s", {
      stdin: restoreRuntimeScript(this.sched.stateFile),
      timeoutMs: 30000,
    });
    const restored = [...result.stdout.matchAll(/restored (\w+) (-?\d+)/g)].map((m) => `${m[1]} ${m[2]}`);
    if (restored.length > 0) {
      notes.push(`a previous run left the RT runtime lowered: restored ${restored.join(", ")}`);
    }
    notes.push(...(await this.sweep()));
    return notes;
  }
}
