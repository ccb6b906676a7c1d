/**
 * The report's model: the run in focus, the runs it is compared with, and every derived table.
 * Pure; html.ts draws it.
 */
import {
  compareRuns,
  COMPARE_RULE,
  impact,
  repeatability,
  runView,
  type CompareRow,
  type ImpactRow,
  type RepeatRow,
  type RunView,
} from "./analysis";
import type { StoredRunDoc } from "./types";

export const IMPACT_METHOD =
  "cfsrr1 - cfs per frame size. MRR: difference of the two cells' trial means with a 95 % Welch t-interval " +
  "(unequal variances, Welch-Satterthwaite degrees of freedom) over the trials of the run in focus. " +
  "NDR/PDR: each run gives one lower bound per cell, so the interval is Welch's over the runs' lower bounds " +
  "when at least two runs measured both cells; with one run only the difference is shown. " +
  "'significant' = the interval excludes 0.";

export interface ReportModel {
  title: string;
  generatedAt: string;
  current: RunView;
  /** oldest first, including the current run */
  history: RunView[];
  baseline: RunView | null;
  impact: ImpactRow[];
  impactMethod: string;
  repeatability: RepeatRow[];
  comparison: CompareRow[] | null;
  compareRule: string;
}

export function reportModel(opts: {
  runs: readonly StoredRunDoc[];
  /** default: the last run */
  current?: StoredRunDoc;
  /** default: the run before the current one */
  baseline?: StoredRunDoc | null;
  title?: string;
  generatedAt?: string;
}): ReportModel {
  const history = opts.runs.map(runView);
  const currentDoc = opts.current ?? opts.runs[opts.runs.length - 1];
  if (!currentDoc) throw new Error("no run to report");
  const current = runView(currentDoc);
  const idx = history.findIndex((r) => r.runId === current.runId && r.stack === current.stack);
  const widthGoalOf = (d: StoredRunDoc): number =>
    (d.facts as { plan?: { ndrpdr?: { relativeWidth?: number } } }).plan?.ndrpdr?.relativeWidth ?? 0.005;
  // default baseline: the latest earlier run that measured some cell of this one on its own (a run
  // whose results this one only reused has nothing to compare)
  let baselineDoc: StoredRunDoc | undefined;
  if (opts.baseline !== undefined) baselineDoc = opts.baseline ?? undefined;
  else {
    for (let i = (idx >= 0 ? idx : history.length) - 1; i >= 0 && !baselineDoc; i--) {
      const candidate = history[i]!;
      if (compareRuns(candidate, current, widthGoalOf(currentDoc)).length > 0) baselineDoc = opts.runs[i];
    }
  }
  const baseline = baselineDoc ? runView(baselineDoc) : null;
  const widthGoal = widthGoalOf(currentDoc);
  return {
    title: opts.title ?? `vhost-perf-lab ${current.stack || currentDoc.plan}: run ${current.runId}`,
    generatedAt: opts.generatedAt ?? new Date().toISOString(),
    current,
    history: idx >= 0 ? history : [...history, current],
    baseline,
    impact: impact(current, idx >= 0 ? history : [...history, current]),
    impactMethod: IMPACT_METHOD,
    repeatability: repeatability(current, idx >= 0 ? history : [...history, current]),
    comparison: baseline ? compareRuns(baseline, current, widthGoal) : null,
    compareRule: COMPARE_RULE,
  };
}
