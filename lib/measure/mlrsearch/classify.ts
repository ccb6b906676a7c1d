/**
 * Load classification: given the trials at one load, does the load meet a phase target
 * ("lower": it can serve as a lower bound), miss it ("upper"), or is more trial time needed
 * ("undecided")?
 *
 * The rule, in words. The target asks for `durationSumS` of trial time, of which at most the
 * share `exceedRatio` may miss the loss goal. Trials shorter than the target's trial duration
 * are weaker evidence: each second of a short trial that met the goal cancels
 * exceed/(1-exceed) seconds of short trials that missed it, and only what is left of the missing
 * ones counts; short trials never count as having met it. Then
 * - "lower" if the load would still be within the allowed share even if all the trial time not
 *   yet measured missed the goal;
 * - "upper" if it would exceed the share even if all the remaining time met the goal;
 * - "undecided" otherwise.
 * Once enough full-length trial time exists, every load is one or the other.
 */
import type { PhaseTarget } from "./phases";
import type { LoadTrial } from "./trialDatabase";

export type LoadClass = "lower" | "upper" | "undecided";

/** Trial-time tallies of one load for one target, in seconds. */
export interface LoadEvidence {
  readonly metFullS: number;
  readonly missedFullS: number;
  readonly metShortS: number;
  readonly missedShortS: number;
  /** Missed time that counts against the load, after short met time cancelled short missed time. */
  readonly countedMissedS: number;
  /** The time the share is taken of: the target's sum, or more if more was measured. */
  readonly wholeS: number;
}

type ClassifierTarget = Pick<PhaseTarget, "lossRatio" | "exceedRatio" | "trialDurationS" | "durationSumS">;

/** Tolerance for durations that are meant to be equal but went through floating point. */
const DURATION_EPSILON = 1e-9;

export function tallyEvidence(trials: readonly LoadTrial[], target: ClassifierTarget): LoadEvidence {
  let metFullS = 0;
  let missedFullS = 0;
  let metShortS = 0;
  let missedShortS = 0;
  for (const trial of trials) {
    const met = trial.lossRatio <= target.lossRatio;
    const full = trial.durationS >= target.trialDurationS - DURATION_EPSILON;
    if (full && met) metFullS += trial.durationS;
    else if (full) missedFullS += trial.durationS;
    else if (met) metShortS += trial.durationS;
    else missedShortS += trial.durationS;
  }
  const cancelPerMetSecond = target.exceedRatio / (1 - target.exceedRatio);
  const countedMissedS = missedFullS + Math.max(0, missedShortS - metShortS * cancelPerMetSecond);
  const wholeS = Math.max(metFullS + countedMissedS, target.durationSumS);
  return { metFullS, missedFullS, metShortS, missedShortS, countedMissedS, wholeS };
}

export function classifyEvidence(evidence: LoadEvidence, exceedRatio: number): LoadClass {
  const allowedMissS = exceedRatio * evidence.wholeS;
  const missedIfRestMisses = evidence.wholeS - evidence.metFullS;
  if (missedIfRestMisses <= allowedMissS + DURATION_EPSILON) return "lower";
  if (evidence.countedMissedS > allowedMissS + DURATION_EPSILON) return "upper";
  return "undecided";
}

export function classifyLoad(trials: readonly LoadTrial[], target: ClassifierTarget): LoadClass {
  return classifyEvidence(tallyEvidence(trials, target), target.exceedRatio);
}
