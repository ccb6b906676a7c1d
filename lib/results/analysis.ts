/**
 * From stored runs to what the report shows: per-cell views (MRR trials, NDR/PDR bounds, search
 * trace, validity), the cfsrr1-vs-cfs impact per frame size with its uncertainty, repeatability
 * (CV within a run, spread across runs) and the comparison of two runs with the rule that flags
 * changes beyond the measured noise. Pure.
 */
import type { CellReport } from "../bench/report";
import { mean } from "../measure/stats";
import { cellChecks, type Check } from "./validity";
import { cv, relativeSpread, welchDifference, type Difference } from "./stats";
import type { SetupFacts, StoredRunDoc } from "./types";

export interface BoundView {
  lowerPps: number | null;
  upperPps: number | null;
  lowerL1Bps: number | null;
  outcome: string | null;
}

export interface TraceRow {
  loadPps: number;
  durationS: number;
  loss: number;
  ndrPass: boolean;
  pdrPass: boolean;
  why: string;
}

export interface CellView {
  name: string;
  policy: string;
  frame: string;
  vringSize: number;
  key: string;
  reused: boolean;
  measuredIn: string;
  error: string | null;
  warnings: string[];
  mrr: {
    testName: string;
    loadPps: number;
    trials: number[];
    avgPps: number;
    stdevPps: number;
    cv: number | null;
    l1Bps: number;
  } | null;
  ndrpdr: { testName: string; ndr: BoundView; pdr: BoundView; stopReason: string; trace: TraceRow[] } | null;
  checks: Check[];
}

export interface CalibrationView {
  frame: string;
  askedPps: number;
  achievedPps: number;
  capPps: number;
  capped: boolean;
  rule: string;
}

export interface RunView {
  runId: string;
  stack: string;
  startedAt: string;
  ok: boolean;
  fatal: string | null;
  tgNote: string;
  calibration: CalibrationView | null;
  setup: SetupFacts | null;
  cells: CellView[];
}

const NO_SETUP: SetupFacts = {
  kernel: null,
  cmdline: null,
  qemu: { version: null, patches: [] },
  accel: null,
  vringSizes: [],
  cpus: {},
  tg: { kind: "unknown", directions: 1, maxLoadPps: null },
  vswitch: { kind: "unknown", options: {} },
};

function bound(g: NonNullable<CellReport["ndrpdr"]>["ndr"], directions: number): BoundView {
  return {
    lowerPps: g?.lowerBoundPps ?? null,
    upperPps: g?.upperBoundPps === null || g === null ? null : g.upperBoundPps * directions,
    lowerL1Bps: g?.lowerBoundL1Bps ?? null,
    outcome: g?.outcome ?? null,
  };
}

export function cellView(doc: StoredRunDoc, cell: CellReport): CellView {
  const origin = doc.results?.origins[cell.name];
  const setup = doc.results?.setup ?? NO_SETUP;
  const ndrLoss = cell.ndrpdr?.ndr?.lossRatio ?? 0;
  const pdrLoss = cell.ndrpdr?.pdr?.lossRatio ?? 0.005;
  return {
    name: cell.name,
    policy: cell.policy,
    frame: cell.frame,
    vringSize: cell.vringSize,
    key: origin?.key ?? "",
    reused: origin?.reused ?? false,
    measuredIn: origin?.runId ?? doc.results?.runId ?? doc.startedAt,
    error: cell.error ?? null,
    warnings: cell.warnings,
    mrr: cell.mrr
      ? {
          testName: cell.mrr.testName,
          loadPps: cell.mrr.loadPps,
          trials: cell.mrr.trials.map((t) => t.pps),
          avgPps: cell.mrr.avgPps,
          stdevPps: cell.mrr.stdevPps,
          cv: cv(cell.mrr.trials.map((t) => t.pps)),
          l1Bps: cell.mrr.l1Bps,
        }
      : null,
    ndrpdr: cell.ndrpdr
      ? {
          testName: cell.ndrpdr.testName,
          ndr: bound(cell.ndrpdr.ndr, cell.directions),
          pdr: bound(cell.ndrpdr.pdr, cell.directions),
          stopReason: cell.ndrpdr.stopReason,
          trace: cell.ndrpdr.trials.map((t) => ({
            loadPps: t.loadPps,
            durationS: t.durationS,
            loss: t.loss,
            ndrPass: t.loss <= ndrLoss,
            pdrPass: t.loss <= pdrLoss,
            why: t.why,
          })),
        }
      : null,
    checks: cellChecks(cell, setup),
  };
}

export function runView(doc: StoredRunDoc): RunView {
  const cal = (doc as { calibration?: CalibrationView }).calibration ?? null;
  return {
    runId: doc.results?.runId ?? doc.startedAt,
    stack: doc.results?.stack ?? "",
    startedAt: doc.startedAt,
    ok: doc.ok,
    fatal: doc.fatal ?? null,
    tgNote: doc.tg.note,
    calibration: cal,
    setup: doc.results?.setup ?? null,
    cells: doc.cells.map((c) => cellView(doc, c)),
  };
}

// ---- cfsrr1 vs cfs ---------------------------------------------------------------------------

export interface ImpactRow {
  frame: string;
  vringSize: number;
  metric: "MRR" | "NDR" | "PDR";
  cfs: number | null;
  cfsrr1: number | null;
  diff: Difference | null;
  /** how the uncertainty was had */
  basis: string;
}

/**
 * MRR: the two cells' trials of the run in focus (Welch). NDR/PDR: one search per cell and run, so
 * with >= 2 runs the runs' lower bounds are the samples (Welch over runs); with one run only the
 * difference is given, with each side's [lower, upper] bounds in the table.
 */
export function impact(current: RunView, history: readonly RunView[]): ImpactRow[] {
  const rows: ImpactRow[] = [];
  const groups = new Map<string, CellView[]>();
  for (const c of current.cells) {
    const k = `${c.frame}|${c.vringSize}`;
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  for (const cells of groups.values()) {
    const cfs = cells.find((c) => c.policy === "cfs");
    const rr = cells.find((c) => c.policy === "cfsrr1");
    if (!cfs || !rr) continue;
    if (cfs.mrr && rr.mrr) {
      rows.push({
        frame: cfs.frame,
        vringSize: cfs.vringSize,
        metric: "MRR",
        cfs: cfs.mrr.avgPps,
        cfsrr1: rr.mrr.avgPps,
        diff: welchDifference(cfs.mrr.trials, rr.mrr.trials),
        basis: `${cfs.mrr.trials.length} + ${rr.mrr.trials.length} MRR trials of this run`,
      });
    }
    for (const metric of ["NDR", "PDR"] as const) {
      const pick = (c: CellView): number | null =>
        (metric === "NDR" ? c.ndrpdr?.ndr.lowerPps : c.ndrpdr?.pdr.lowerPps) ?? null;
      const a = pick(cfs);
      const b = pick(rr);
      if (a === null && b === null && !cfs.ndrpdr) continue;
      const samples = (name: string): number[] =>
        history
          .map((r) => r.cells.find((c) => c.name === name))
          .filter((c): c is CellView => c !== undefined && !c.reused)
          .map(pick)
          .filter((v): v is number => v !== null);
      const sa = samples(cfs.name);
      const sb = samples(rr.name);
      const many = sa.length >= 2 && sb.length >= 2;
      rows.push({
        frame: cfs.frame,
        vringSize: cfs.vringSize,
        metric,
        cfs: a,
        cfsrr1: b,
        diff: many ? welchDifference(sa, sb) : a !== null && b !== null ? welchDifference([a], [b]) : null,
        basis: many
          ? `lower bounds of ${sa.length} + ${sb.length} runs (each run measured once)`
          : "one search per cell: no interval (see the bounds in the NDR/PDR table); more runs give one",
      });
    }
  }
  return rows;
}

// ---- repeatability ---------------------------------------------------------------------------

export interface RepeatRow {
  cell: string;
  metric: "MRR" | "NDR" | "PDR";
  /** within the run in focus (MRR trials) */
  cvWithin: number | null;
  /** one value per run where the cell was measured (reused results are not counted twice) */
  runs: { runId: string; value: number }[];
  cvAcross: number | null;
  spreadAcross: number | null;
}

export function repeatability(current: RunView, history: readonly RunView[]): RepeatRow[] {
  const rows: RepeatRow[] = [];
  for (const c of current.cells) {
    for (const metric of ["MRR", "NDR", "PDR"] as const) {
      const pick = (v: CellView): number | null =>
        metric === "MRR"
          ? (v.mrr?.avgPps ?? null)
          : metric === "NDR"
            ? (v.ndrpdr?.ndr.lowerPps ?? null)
            : (v.ndrpdr?.pdr.lowerPps ?? null);
      if (pick(c) === null) continue;
      const runs = history.flatMap((r) => {
        const v = r.cells.find((x) => x.name === c.name && x.key === c.key && !x.reused);
        const value = v ? pick(v) : null;
        return value === null ? [] : [{ runId: r.runId, value }];
      });
      const values = runs.map((r) => r.value);
      rows.push({
        cell: c.name,
        metric,
        cvWithin: metric === "MRR" ? (c.mrr?.cv ?? null) : null,
        runs,
        cvAcross: cv(values),
        spreadAcross: relativeSpread(values),
      });
    }
  }
  return rows;
}

// ---- comparing two runs (or two stacks) -------------------------------------------------------

export const COMPARE_RULE =
  "A change is flagged when it is beyond the measured noise: for MRR, when the 95 % Welch interval of the " +
  "difference of the two runs' trial means excludes 0 AND the change is larger than twice the larger " +
  "within-run CV of the two; for NDR/PDR (one search per run), when the change of the lower bound is " +
  "larger than twice the larger MRR CV of the cell in the two runs, and at least the search's width goal.";

export interface CompareRow {
  cell: string;
  metric: "MRR" | "NDR" | "PDR";
  before: number | null;
  after: number | null;
  relative: number | null;
  interval: [number, number] | null;
  noise: number | null;
  flagged: boolean;
  /** why the two may not be comparable (e.g. a different offered load after the TG calibration) */
  note: string;
}

export function compareRuns(base: RunView, next: RunView, widthGoal = 0.005): CompareRow[] {
  const rows: CompareRow[] = [];
  for (const b of next.cells) {
    const a = base.cells.find((c) => c.name === b.name);
    // no baseline, or one and the same measurement (reused by the later run)
    if (!a || a.measuredIn === b.measuredIn) continue;
    const cvs = [a.mrr?.cv, b.mrr?.cv].filter((v): v is number => typeof v === "number");
    const noise = cvs.length > 0 ? 2 * Math.max(...cvs) : null;
    if (a.mrr && b.mrr) {
      const d = welchDifference(a.mrr.trials, b.mrr.trials);
      const rel = d.relative;
      rows.push({
        cell: b.name,
        metric: "MRR",
        before: a.mrr.avgPps,
        after: b.mrr.avgPps,
        relative: rel,
        interval: d.low === null || d.high === null ? null : [d.low, d.high],
        noise,
        flagged: d.significant && rel !== null && noise !== null && Math.abs(rel) > noise,
        note:
          a.mrr.loadPps === b.mrr.loadPps
            ? ""
            : `offered load differs: ${a.mrr.loadPps} -> ${b.mrr.loadPps} pps/dir (TG calibration)`,
      });
    }
    for (const metric of ["NDR", "PDR"] as const) {
      const pick = (c: CellView): number | null =>
        (metric === "NDR" ? c.ndrpdr?.ndr.lowerPps : c.ndrpdr?.pdr.lowerPps) ?? null;
      const x = pick(a);
      const y = pick(b);
      if (!a.ndrpdr || !b.ndrpdr) continue;
      const rel = x !== null && y !== null && x > 0 ? (y - x) / x : null;
      const threshold = noise === null ? null : Math.max(noise, widthGoal);
      rows.push({
        cell: b.name,
        metric,
        before: x,
        after: y,
        relative: rel,
        interval: null,
        noise: threshold,
        // a bound that appeared or vanished is a change as well
        flagged:
          (x === null) !== (y === null) || (rel !== null && threshold !== null && Math.abs(rel) > threshold),
        note: [a.ndrpdr.stopReason, b.ndrpdr.stopReason].includes("generator-shortfall")
          ? `search stop: ${a.ndrpdr.stopReason} -> ${b.ndrpdr.stopReason}`
          : "",
      });
    }
  }
  return rows;
}

export { mean };
