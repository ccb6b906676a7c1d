/**
 * Coarse-to-fine phases. Before the final phase (the goal as given) come a few coarser ones:
 * each is `scale` times wider and asks for `scale` times less trial time per load. Coarse phases
 * find the neighbourhood of the answer cheaply; the final phase spends the full trial time only
 * on the few loads that end up as bounds.
 */
import type { SearchGoal } from "./config";

/** What one phase of one goal needs: the loss criterion, the precision and the trial time. */
export interface PhaseTarget {
  readonly goalName: string;
  /** 0 is the coarsest phase; the last one is the goal itself. */
  readonly phase: number;
  readonly isFinal: boolean;
  readonly lossRatio: number;
  readonly exceedRatio: number;
  readonly relativeWidth: number;
  /** Trials of this phase last this long; shorter ones count as "short" for it. */
  readonly trialDurationS: number;
  readonly durationSumS: number;
}

/** Coarse phases never get wider than this: beyond it, their bounds say too little. */
const WIDEST_PHASE = 0.5;

export function planPhases(goal: SearchGoal, intermediatePhases: number, scale: number): PhaseTarget[] {
  const phases: PhaseTarget[] = [];
  const last = intermediatePhases;
  for (let phase = 0; phase <= last; phase++) {
    const stepsFromFinal = last - phase;
    const progress = last === 0 ? 1 : phase / last;
    phases.push({
      goalName: goal.name,
      phase,
      isFinal: stepsFromFinal === 0,
      lossRatio: goal.lossRatio,
      exceedRatio: goal.exceedRatio,
      relativeWidth: Math.min(WIDEST_PHASE, goal.relativeWidth * scale ** stepsFromFinal),
      // Geometric steps from the initial to the final trial duration (CSIT: both 1 s).
      trialDurationS:
        goal.initialTrialDurationS * (goal.finalTrialDurationS / goal.initialTrialDurationS) ** progress,
      durationSumS: goal.durationSumS / scale ** stepsFromFinal,
    });
  }
  return phases;
}
