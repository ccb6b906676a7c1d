/**
 * Conditional throughput: the forwarding rate a load achieves in the trial time that counts.
 * Take the full-length trials at the relevant lower bound, sorted by loss ratio; walk up until
 * (1 - exceed ratio) of the whole trial time is covered; the loss ratio reached there is the
 * quantile loss. The conditional throughput is load x (1 - quantile loss). For NDR it equals
 * the load; for PDR it is at most 0.5 % below it.
 */
import { tallyEvidence } from "./classify";
import type { PhaseTarget } from "./phases";
import type { LoadTrial } from "./trialDatabase";

export function quantileLossRatio(trials: readonly LoadTrial[], target: PhaseTarget): number | null {
  const { wholeS } = tallyEvidence(trials, target);
  const needS = (1 - target.exceedRatio) * wholeS;
  const full = trials
    .filter((trial) => trial.durationS >= target.trialDurationS - 1e-9)
    .sort((a, b) => a.lossRatio - b.lossRatio);
  let coveredS = 0;
  for (const trial of full) {
    coveredS += trial.durationS;
    if (coveredS >= needS - 1e-9) return trial.lossRatio;
  }
  return null;
}

export function conditionalThroughputPps(
  loadPps: number,
  trials: readonly LoadTrial[],
  target: PhaseTarget,
): number | null {
  const quantile = quantileLossRatio(trials, target);
  return quantile === null ? null : loadPps * (1 - quantile);
}
