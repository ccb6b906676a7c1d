/**
 * The baseline: an RFC 2544 style binary search, as VSPERF and NFVbench run it. One trial per
 * load, a load passes a goal when that one trial's loss ratio is within the goal, and the
 * interval is halved (arithmetic midpoint) until (upper - lower) / upper is within the width.
 * NDR and PDR share trials: every trial narrows every goal whose interval it falls in. Start at
 * the max load; the min load is only measured when the search gets down to it.
 */
import {
  DEFAULT_SHORTFALL_TOLERANCE,
  runTrial,
  type TrafficGenerator,
  type TrialRecord,
} from "./trafficGenerator";
import { relativeWidth, type FrameSize } from "./units";

export interface BinarySearchConfig {
  readonly minLoadPps: number;
  readonly maxLoadPps: number;
  readonly frame: FrameSize;
  readonly trialDurationS: number;
  /** Loss goals, e.g. [0, 0.005] for NDR and PDR. */
  readonly lossRatios?: readonly number[];
  readonly relativeWidth?: number;
  readonly timeLimitS?: number;
  readonly shortfallTolerance?: number;
}

export type BinaryGoalOutcome = "found" | "max-load-passes" | "min-load-fails" | "time-limit";

export interface BinaryGoalResult {
  readonly lossRatio: number;
  readonly outcome: BinaryGoalOutcome;
  /** Highest load that passed (per direction); null if none did. */
  readonly lowerBoundPps: number | null;
  /** Lowest load that failed (per direction); null if none did. */
  readonly upperBoundPps: number | null;
}

export interface BinarySearchResult {
  readonly goals: readonly BinaryGoalResult[];
  readonly trialSecondsUsed: number;
  readonly trialCount: number;
  readonly trials: readonly TrialRecord[];
}

interface Interval {
  readonly lossRatio: number;
  /** Highest passing load so far; null until one passed. */
  passedPps: number | null;
  /** Lowest failing load so far; null until one failed. */
  failedPps: number | null;
}

function isSettled(interval: Interval, config: Required<BinarySearchConfig>): boolean {
  if (interval.passedPps === config.maxLoadPps) return true;
  if (interval.failedPps === config.minLoadPps) return true;
  if (interval.passedPps === null || interval.failedPps === null) return false;
  return relativeWidth(interval.passedPps, interval.failedPps) <= config.relativeWidth + 1e-9;
}

/** Next load for an unsettled interval: max load first, then midpoints; the min load at the bottom. */
function nextLoadFor(interval: Interval, config: Required<BinarySearchConfig>): number {
  if (interval.failedPps === null) return config.maxLoadPps;
  const lower = interval.passedPps ?? config.minLoadPps;
  const middle = (lower + interval.failedPps) / 2;
  const unmeasuredBottom = interval.passedPps === null;
  if (unmeasuredBottom && relativeWidth(config.minLoadPps, interval.failedPps) <= config.relativeWidth) {
    return config.minLoadPps;
  }
  return middle;
}

function outcomeOf(interval: Interval, config: Required<BinarySearchConfig>): BinaryGoalOutcome {
  if (!isSettled(interval, config)) return "time-limit";
  if (interval.passedPps === config.maxLoadPps) return "max-load-passes";
  if (interval.failedPps === config.minLoadPps) return "min-load-fails";
  return "found";
}

export async function runBinarySearch(
  generator: TrafficGenerator,
  input: BinarySearchConfig,
): Promise<BinarySearchResult> {
  const config: Required<BinarySearchConfig> = {
    lossRatios: [0, 0.005],
    relativeWidth: 0.005,
    timeLimitS: Infinity,
    shortfallTolerance: DEFAULT_SHORTFALL_TOLERANCE,
    ...input,
  };
  if (!(config.minLoadPps > 0 && config.maxLoadPps >= config.minLoadPps)) {
    throw new RangeError("binary search needs 0 < minLoadPps <= maxLoadPps");
  }
  const intervals: Interval[] = config.lossRatios.map((lossRatio) => ({
    lossRatio,
    passedPps: null,
    failedPps: null,
  }));
  const trials: TrialRecord[] = [];
  let trialSecondsUsed = 0;
  for (;;) {
    // Narrow the strictest unsettled goal first (NDR before PDR).
    const open = intervals.filter((interval) => !isSettled(interval, config));
    const current = open.sort((a, b) => a.lossRatio - b.lossRatio)[0];
    if (current === undefined) break;
    if (trialSecondsUsed + config.trialDurationS > config.timeLimitS) break;
    const loadPps = nextLoadFor(current, config);
    const trial = await runTrial(
      generator,
      { loadPps, durationS: config.trialDurationS, frame: config.frame },
      config.shortfallTolerance,
    );
    trials.push(trial);
    trialSecondsUsed += trial.durationS;
    for (const interval of intervals) {
      const inside =
        (interval.passedPps === null || loadPps > interval.passedPps) &&
        (interval.failedPps === null || loadPps < interval.failedPps);
      if (!inside) continue;
      if (trial.lossRatio <= interval.lossRatio) interval.passedPps = loadPps;
      else interval.failedPps = loadPps;
    }
  }
  return {
    goals: intervals.map((interval) => ({
      lossRatio: interval.lossRatio,
      outcome: outcomeOf(interval, config),
      lowerBoundPps: interval.passedPps,
      upperBoundPps: interval.failedPps,
    })),
    trialSecondsUsed,
    trialCount: trials.length,
    trials,
  };
}
