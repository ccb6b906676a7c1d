/**
 * Where to measure next, for one goal in one phase. Pure: looks at the trial database only.
 *
 * In order:
 * 1. an undecided load between the working bounds is measured again;
 * 2. no upper bound yet: measure (or confirm) the max load;
 * 3. no lower bound yet: step down from the upper bound, first to the rate the device forwarded
 *    there, then in growing steps; at the min load, confirm it fails;
 * 4. bounds wider than the phase width: measure a load between them;
 * 5. narrow enough: confirm the upper bound, then the lower bound, with this phase's trial time.
 */
import { confirmedClassifier, relevantBounds, workingClassifier } from "./bounds";
import type { PhaseTarget } from "./phases";
import type { TrialDatabase } from "./trialDatabase";
import { median } from "../stats";
import { relativeWidth } from "../units";

export type PhaseOutcome = "found" | "max-load-meets-goal" | "min-load-fails-goal";

export interface MeasureStep {
  readonly kind: "measure";
  readonly loadPps: number;
  readonly durationS: number;
  /** Short reason, for the trial log. */
  readonly why: string;
}

export type NextStep = MeasureStep | { readonly kind: "done"; readonly outcome: PhaseOutcome };

export interface LoadLimits {
  readonly minLoadPps: number;
  readonly maxLoadPps: number;
}

const WIDTH_EPSILON = 1e-9;
/** A step down never goes below half the current upper bound. */
const LARGEST_STEP_DOWN = 0.5;

/** Log-space width of a relative width: ln(upper / lower) for (upper - lower) / upper = width. */
function logWidth(width: number): number {
  return -Math.log(1 - width);
}

/**
 * A load strictly between lower and upper. When the gap is at most two phase widths, the load one
 * width below the upper bound finishes the phase whatever the trial says. Otherwise the gap is
 * cut so the upper piece is a power-of-two number of widths, which later halves exactly; the
 * smaller remainder sits next to the lower bound, where the answer usually is after the first
 * step down.
 */
export function splitLoad(lowerPps: number, upperPps: number, width: number): number {
  const widthLog = logWidth(width);
  const gapLog = Math.log(upperPps / lowerPps);
  if (gapLog <= 2 * widthLog) return upperPps * (1 - width);
  const widths = gapLog / widthLog;
  const upperPieceWidths = 2 ** (Math.ceil(Math.log2(widths) - 1e-9) - 1);
  return upperPps * Math.exp(-upperPieceWidths * widthLog);
}

function stepDownLoad(
  database: TrialDatabase,
  upperPps: number,
  width: number,
  limits: LoadLimits,
  failedStepsBelowMax: number,
): number {
  const forwarded = median(database.trialsAt(upperPps).map((trial) => trial.forwardingRatePps));
  const stepWidth = Math.min(LARGEST_STEP_DOWN, width * 2 ** failedStepsBelowMax);
  const byStep = upperPps * (1 - stepWidth);
  // What the device forwarded while overloaded is a good first guess of where loss stops.
  const byForwarding = Number.isFinite(forwarded) && forwarded > 0 ? forwarded : byStep;
  return Math.max(limits.minLoadPps, Math.min(byStep, byForwarding));
}

export function nextStep(
  database: TrialDatabase,
  targets: readonly PhaseTarget[],
  phase: number,
  limits: LoadLimits,
): NextStep {
  const target = targets[phase];
  if (target === undefined) throw new RangeError(`no phase ${phase}`);
  const measure = (loadPps: number, why: string): NextStep => ({
    kind: "measure",
    loadPps,
    durationS: target.trialDurationS,
    why,
  });
  const confirmed = confirmedClassifier(database, target);
  const working = workingClassifier(database, targets, phase);
  const loads = database.loads();
  const { lowerPps, upperPps, pendingPps } = relevantBounds(loads, working);

  const highestPending = pendingPps[pendingPps.length - 1];
  if (highestPending !== undefined) return measure(highestPending, "undecided load between the bounds");

  if (upperPps === null) {
    if (!database.has(limits.maxLoadPps)) return measure(limits.maxLoadPps, "start at max load");
    if (confirmed(limits.maxLoadPps) === "lower") return { kind: "done", outcome: "max-load-meets-goal" };
    return measure(limits.maxLoadPps, "confirm max load meets the goal");
  }

  if (lowerPps === null) {
    if (upperPps <= limits.minLoadPps) {
      if (confirmed(upperPps) === "upper") return { kind: "done", outcome: "min-load-fails-goal" };
      return measure(upperPps, "confirm min load fails the goal");
    }
    const failedStepsBelowMax = loads.filter(
      (load) => load > upperPps && load < limits.maxLoadPps && working(load) === "upper",
    ).length;
    return measure(
      stepDownLoad(database, upperPps, target.relativeWidth, limits, failedStepsBelowMax),
      "look for a lower bound",
    );
  }

  if (relativeWidth(lowerPps, upperPps) > target.relativeWidth + WIDTH_EPSILON) {
    return measure(splitLoad(lowerPps, upperPps, target.relativeWidth), "narrow the bounds");
  }
  if (confirmed(upperPps) !== "upper") return measure(upperPps, "confirm the upper bound");
  if (confirmed(lowerPps) !== "lower") return measure(lowerPps, "confirm the lower bound");
  return { kind: "done", outcome: "found" };
}
