/**
 * A benchmark run with the result store: the setup facts are read, every cell gets its key, cells
 * whose key has a good stored result are reused (not measured again), the others are measured by
 * the runner, and the whole run is stored and reported (HTML). The runner itself is unchanged:
 * it gets a plan with only the cells to measure.
 */
import type { BenchPlan } from "../bench/plan";
import { runChecked } from "../bench/remote";
import { runBench, type RunnerDeps } from "../bench/runner";
import type { BenchReport, CellReport } from "../bench/report";
import { cellKey } from "./cellKey";
import { renderHtml } from "./html";
import { reportModel } from "./model";
import { findReusable, loadRuns, newRunId, saveRun, storeDir, writeReport } from "./store";
import type { CellOrigin, SetupFacts, StoredRunDoc } from "./types";

/** What the program put into plan.facts.setup (index.ts), without the host-read parts. */
export interface PlannedSetup {
  qemu?: { version?: string | null; patches?: string[] };
  accel?: string | null;
  vringSizes?: unknown[];
  cpus?: Record<string, unknown>;
  vswitch?: { kind: string; options?: Record<string, unknown> };
}

export function setupFacts(
  plan: BenchPlan,
  host: { kernel: string | null; cmdline: string | null },
): SetupFacts {
  const s = ((plan.facts as { setup?: PlannedSetup }).setup ?? {}) as PlannedSetup;
  return {
    kernel: host.kernel,
    cmdline: host.cmdline,
    qemu: { version: s.qemu?.version ?? null, patches: s.qemu?.patches ?? [] },
    accel: s.accel ?? null,
    vringSizes: s.vringSizes ?? [],
    cpus: s.cpus ?? {},
    tg: {
      kind: plan.tg.kind,
      directions: plan.tg.kind === "trafgen" ? plan.tg.directions : 2,
      maxLoadPps: plan.mrr.maxLoadPps,
    },
    vswitch: { kind: s.vswitch?.kind ?? "unknown", options: s.vswitch?.options ?? {} },
  };
}

/** Kernel release and command line of the DUT, over the runner's own connection. */
export async function readHostSetup(
  deps: Pick<RunnerDeps, "hosts">,
  plan: BenchPlan,
): Promise<{ kernel: string | null; cmdline: string | null; bootId: string | null }> {
  const exec = await deps.hosts.get(plan.dut.host);
  const r = await runChecked(
    exec,
    "kernel facts",
    "uname -r; cat /proc/cmdline; cat /proc/sys/kernel/random/boot_id",
    { timeoutMs: 30000 },
  );
  const [kernel, cmdline, bootId] = r.stdout.split("\n");
  return { kernel: kernel?.trim() || null, cmdline: cmdline?.trim() || null, bootId: bootId?.trim() || null };
}

/** The running datapath's identity: the DUT's boot and the vswitch and VM processes of the plan. */
export function datapathId(plan: BenchPlan, bootId: string | null): string {
  const proc = (s: { pid?: number; pidFile?: string }): string => String(s.pid ?? s.pidFile ?? "?");
  // VMs found by pidfile (a vring switch restarts them): their pids as deployed name them
  const vms = plan.dut.vmRing?.deployedPids?.map(String) ?? plan.dut.vms.map(proc);
  return [bootId ?? "?", proc(plan.dut.vswitch), ...vms].join("/");
}

/** Which cells to measure and which to take from the store (pure). */
export function partitionCells(
  plan: BenchPlan,
  setup: SetupFacts,
  runs: readonly StoredRunDoc[],
  datapath: string,
): { keys: string[]; reuse: Map<number, { cell: CellReport; runId: string }>; measure: number[] } {
  const keys = plan.cells.map((c) => cellKey(c, plan, setup));
  const reuse = new Map<number, { cell: CellReport; runId: string }>();
  const measure: number[] = [];
  keys.forEach((key, i) => {
    const found = findReusable(runs, key, datapath);
    if (found) reuse.set(i, found);
    else measure.push(i);
  });
  return { keys, reuse, measure };
}

function emptyReport(plan: BenchPlan, note: string): BenchReport {
  const now = new Date().toISOString();
  return {
    tool: "vhost-perf-lab/bench-runner",
    schemaVersion: 1,
    plan: plan.name,
    startedAt: now,
    finishedAt: now,
    durationS: 0,
    ok: true,
    tg: { kind: plan.tg.kind, directions: plan.tg.kind === "trafgen" ? plan.tg.directions : 2, note },
    hosts: {},
    facts: { ...plan.facts },
    notes: [note],
    cells: [],
  };
}

export interface StoreOptions {
  stack: string;
  /** default: storeDir(stack) */
  dir?: string;
  /** measure every cell even when a stored result has its key */
  fresh?: boolean;
}

export async function runWithStore(
  plan: BenchPlan,
  deps: RunnerDeps,
  opts: StoreOptions,
): Promise<StoredRunDoc> {
  const dir = opts.dir ?? storeDir(opts.stack);
  const runs = loadRuns(dir, (why) => deps.log(`[results] skipped an unreadable stored run: ${why}`));
  const hostSetup = await readHostSetup(deps, plan);
  const setup = setupFacts(plan, hostSetup);
  const datapath = datapathId(plan, hostSetup.bootId);
  const { keys, reuse, measure } = opts.fresh
    ? {
        keys: plan.cells.map((c) => cellKey(c, plan, setup)),
        reuse: new Map(),
        measure: plan.cells.map((_, i) => i),
      }
    : partitionCells(plan, setup, runs, datapath);
  for (const [i, r] of reuse)
    deps.log(`[results] ${r.cell.name}: unchanged (key ${keys[i]}), reusing the result of run ${r.runId}`);
  const sub: BenchPlan = { ...plan, cells: measure.map((i) => plan.cells[i]!) };
  const measured =
    measure.length > 0
      ? await runBench(sub, deps)
      : emptyReport(
          plan,
          "every cell's setup and parameters are unchanged: all results reused, nothing measured",
        );
  const runId = newRunId(dir, measured.startedAt);
  const origins: Record<string, CellOrigin> = {};
  const cells: CellReport[] = [];
  plan.cells.forEach((_, i) => {
    const r = reuse.get(i);
    if (r) {
      cells.push(r.cell);
      origins[r.cell.name] = { key: keys[i]!, runId: r.runId, reused: true };
      return;
    }
    const at = measure.indexOf(i);
    const cell = measured.cells[at];
    if (!cell) return; // not reached (the run stopped early)
    cells.push(cell);
    origins[cell.name] = { key: keys[i]!, runId, reused: false };
  });
  const doc: StoredRunDoc = {
    ...measured,
    cells,
    ok: measured.fatal === undefined && cells.every((c) => c.error === undefined),
    results: { runId, stack: opts.stack, origins, setup, datapath, reportPath: "", storeDir: dir },
  };
  doc.results!.reportPath = `${dir}/runs/${runId}/report.html`;
  saveRun(dir, doc);
  const html = renderHtml(reportModel({ runs: [...runs, doc] }));
  writeReport(dir, runId, html);
  deps.log(`[results] run ${runId} stored in ${dir}/runs/${runId}; report: ${doc.results!.reportPath}`);
  return doc;
}
