/**
 * Relevant bounds: the smallest load that misses the target is the relevant upper bound; the
 * largest load below it that meets the target is the relevant lower bound. Loads in between
 * that are still undecided are "pending": they must be measured further before the interval
 * between the bounds can be trusted.
 */
import { classifyLoad, type LoadClass } from "./classify";
import type { PhaseTarget } from "./phases";
import type { TrialDatabase } from "./trialDatabase";

export interface RelevantBounds {
  readonly lowerPps: number | null;
  readonly upperPps: number | null;
  /** Undecided loads strictly between the bounds, ascending. */
  readonly pendingPps: readonly number[];
}

export function relevantBounds(
  loadsAscending: readonly number[],
  classOf: (loadPps: number) => LoadClass,
): RelevantBounds {
  const classes = loadsAscending.map((load) => ({ load, cls: classOf(load) }));
  const upper = classes.find((entry) => entry.cls === "upper")?.load ?? null;
  const belowUpper = classes.filter((entry) => upper === null || entry.load < upper);
  let lower: number | null = null;
  for (const entry of belowUpper) if (entry.cls === "lower") lower = entry.load;
  const pending = belowUpper
    .filter((entry) => entry.cls === "undecided" && (lower === null || entry.load > lower))
    .map((entry) => entry.load);
  return { lowerPps: lower, upperPps: upper, pendingPps: pending };
}

/** Classification by the given phase only. */
export function confirmedClassifier(
  database: TrialDatabase,
  target: PhaseTarget,
): (loadPps: number) => LoadClass {
  return (load) => classifyLoad(database.trialsAt(load), target);
}

/**
 * Classification for steering the search in phase `phase`: by that phase if it can decide, else
 * by the nearest coarser phase that can. A load measured once already says which side of the
 * answer it is probably on; the finer phase then only has to confirm the loads that end up as
 * bounds.
 */
export function workingClassifier(
  database: TrialDatabase,
  targets: readonly PhaseTarget[],
  phase: number,
): (loadPps: number) => LoadClass {
  return (load) => {
    const trials = database.trialsAt(load);
    for (let index = phase; index >= 0; index--) {
      const target = targets[index];
      if (target === undefined) continue;
      const cls = classifyLoad(trials, target);
      if (cls !== "undecided") return cls;
    }
    return "undecided";
  };
}
