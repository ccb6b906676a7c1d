/**
 * MRR (maximum receive rate): offer the maximum load for a few short trials and report how much
 * came back, trial by trial, with the spread. CSIT runs 10 trials of 1 s.
 */
import { coefficientOfVariation, mean, sampleStdev } from "./stats";
import {
  DEFAULT_SHORTFALL_TOLERANCE,
  runTrial,
  shortfallOf,
  type ShortfallReport,
  type TrafficGenerator,
  type DirectionCounts,
} from "./trafficGenerator";
import { l1BitsPerSecond, type FrameSize } from "./units";

export interface MrrConfig {
  /** Offered load per direction, pps: the maximum load (e.g. the NIC line rate). */
  readonly maxLoadPps: number;
  readonly frame: FrameSize;
  readonly trials?: number;
  readonly trialDurationS?: number;
  readonly shortfallTolerance?: number;
}

export const MRR_DEFAULTS = { trials: 10, trialDurationS: 1 } as const;

export interface MrrTrialResult {
  readonly index: number;
  readonly offeredCount: number;
  readonly receivedCount: number;
  readonly intendedCount: number;
  readonly lossRatio: number;
  /** Received packets per second, all directions together. */
  readonly receivedPps: number;
  readonly receivedL1Bps: number;
  readonly generatorShortfall: boolean;
  /** the counts per direction, when the generator tells them apart */
  readonly perDirection?: readonly DirectionCounts[];
}

export interface MrrResult {
  readonly frame: FrameSize;
  readonly maxLoadPps: number;
  readonly directions: number;
  readonly trialDurationS: number;
  readonly trials: readonly MrrTrialResult[];
  /** Average of the per-trial aggregate receive rates. */
  readonly averagePps: number;
  readonly stdevPps: number;
  /** stdev / average (NaN if nothing was received at all). */
  readonly coefficientOfVariation: number;
  readonly averageL1Bps: number;
  /** Trials where the generator did not reach the intended load: the MRR is then of a lower load. */
  readonly shortfalls: readonly ShortfallReport[];
}

export async function measureMrr(generator: TrafficGenerator, config: MrrConfig): Promise<MrrResult> {
  const trialCount = config.trials ?? MRR_DEFAULTS.trials;
  const trialDurationS = config.trialDurationS ?? MRR_DEFAULTS.trialDurationS;
  if (!Number.isInteger(trialCount) || trialCount < 1) {
    throw new RangeError(`MRR needs a whole number of trials >= 1, got ${trialCount}`);
  }
  const tolerance = config.shortfallTolerance ?? DEFAULT_SHORTFALL_TOLERANCE;
  const trials: MrrTrialResult[] = [];
  const shortfalls: ShortfallReport[] = [];
  for (let index = 0; index < trialCount; index++) {
    const record = await runTrial(
      generator,
      { loadPps: config.maxLoadPps, durationS: trialDurationS, frame: config.frame },
      tolerance,
    );
    const receivedPps = record.receivedCount / trialDurationS;
    trials.push({
      index,
      offeredCount: record.offeredCount,
      receivedCount: record.receivedCount,
      intendedCount: record.intendedCount,
      lossRatio: record.lossRatio,
      receivedPps,
      receivedL1Bps: l1BitsPerSecond(receivedPps, config.frame),
      generatorShortfall: record.generatorShortfall,
      ...(record.perDirection ? { perDirection: record.perDirection } : {}),
    });
    if (record.generatorShortfall) shortfalls.push(shortfallOf(record));
  }
  const rates = trials.map((trial) => trial.receivedPps);
  const averagePps = mean(rates);
  return {
    frame: config.frame,
    maxLoadPps: config.maxLoadPps,
    directions: generator.directions,
    trialDurationS,
    trials,
    averagePps,
    stdevPps: sampleStdev(rates),
    coefficientOfVariation: coefficientOfVariation(rates),
    averageL1Bps: l1BitsPerSecond(averagePps, config.frame),
    shortfalls,
  };
}
