/** What a search returns. Every way a search can end is a value here, not an exception. */
import type { SearchConfig, SearchGoal } from "./config";
import type { DirectionCounts, ShortfallReport } from "../trafficGenerator";
import type { Rate } from "../units";

export type StopReason =
  /** Every goal reached its width (or hit the min/max load). */
  | "goals-reached"
  /** The next trial would have ended past the time limit. */
  | "time-limit"
  /** The generator did not send the intended load (policy "stop"). */
  | "generator-shortfall";

export type GoalOutcome =
  /** Both bounds found and within the goal width. */
  | "found"
  /** Even the max load meets the goal: throughput >= max load, there is no upper bound. */
  | "max-load-meets-goal"
  /** Even the min load misses the goal: there is no lower bound. */
  | "min-load-fails-goal"
  /** Cut short: the bounds are whatever had been established. */
  | "time-limit"
  | "generator-shortfall";

export interface GoalResult {
  readonly goal: SearchGoal;
  readonly outcome: GoalOutcome;
  /** Per direction, pps; null = none established (for "min-load-fails-goal": none exists). */
  readonly relevantLowerBoundPps: number | null;
  /** Per direction, pps; null = none established (for "max-load-meets-goal": none exists). */
  readonly relevantUpperBoundPps: number | null;
  /** Per direction, pps, at the relevant lower bound. */
  readonly conditionalThroughputPps: number | null;
  /** (upper - lower) / upper of the relevant bounds, when both exist. */
  readonly relativeWidth: number | null;
  /** The same figures summed over all directions, in pps and L1 bps: what CSIT reports. */
  readonly aggregateLowerBound: Rate | null;
  readonly aggregateConditionalThroughput: Rate | null;
  /** Phase the goal had reached (the last one is the final phase). */
  readonly reachedPhase: number;
  /**
   * Bounds the search was steering by, from coarser phases where the final one has not decided
   * yet. Only a hint; useful when the search was cut short.
   */
  readonly workingLowerBoundPps: number | null;
  readonly workingUpperBoundPps: number | null;
}

export interface TrialLogEntry {
  readonly index: number;
  readonly loadPps: number;
  readonly durationS: number;
  readonly offeredCount: number;
  readonly receivedCount: number;
  readonly lossRatio: number;
  readonly generatorShortfall: boolean;
  /** Why the trial was run, e.g. "PDR phase 1: narrow the bounds". */
  readonly why: string;
  /** the counts per direction, when the generator tells them apart */
  readonly perDirection?: readonly DirectionCounts[];
}

export interface SearchResult {
  readonly config: SearchConfig;
  readonly directions: number;
  readonly stopReason: StopReason;
  readonly goals: readonly GoalResult[];
  /** Sum of trial durations. */
  readonly trialSecondsUsed: number;
  /** Time as the search's clock saw it (equal to trialSecondsUsed with the default clock). */
  readonly elapsedS: number;
  readonly trialCount: number;
  readonly shortfalls: readonly ShortfallReport[];
  readonly trials: readonly TrialLogEntry[];
}
