/**
 * The TG's achievable rate, measured once before the matrix: one short trial at the plan's max
 * load with the smallest frame of the matrix (the highest packet rate asked for). When the TG sent
 * less than asked, every max load of the plan is capped to what it achieved (less a margin, so
 * that the next trials at the cap are not short again). The runner calls it from one place and
 * reports it. Pure apart from the one trial.
 */
import type { BenchPlan } from "./plan";
import type { TrafficGenerator } from "../measure/trafficGenerator";
import { frameLabel, meanFrameBytes, type FrameSize } from "../measure/units";

/** The cap is the achieved rate less this share (the shortfall tolerance is 0.5 %). */
export const CALIBRATION_MARGIN = 0.02;
export const CALIBRATION_DURATION_S = 2;

export interface CalibrationReport {
  frame: string;
  durationS: number;
  /** per direction */
  askedPps: number;
  achievedPps: number;
  capPps: number;
  capped: boolean;
  rule: string;
}

export function smallestFrame(plan: BenchPlan): FrameSize {
  const frames = plan.cells.map((c) => c.frame);
  return frames.reduce((a, b) => (meanFrameBytes(b) < meanFrameBytes(a) ? b : a), frames[0] ?? 64);
}

/** The cap from one calibration trial (pure). */
export function capFrom(
  askedPps: number,
  offeredCount: number,
  durationS: number,
  directions: number,
): number {
  const achieved = offeredCount / durationS / Math.max(1, directions);
  if (achieved >= askedPps * (1 - 0.005)) return askedPps;
  return Math.max(1, Math.floor(achieved * (1 - CALIBRATION_MARGIN)));
}

/** The plan with every max load capped (NDR/PDR's min load stays below it). */
export function cappedPlan(plan: BenchPlan, capPps: number): BenchPlan {
  return {
    ...plan,
    mrr: { ...plan.mrr, maxLoadPps: Math.min(plan.mrr.maxLoadPps, capPps) },
    ndrpdr: {
      ...plan.ndrpdr,
      maxLoadPps: Math.min(plan.ndrpdr.maxLoadPps, capPps),
      minLoadPps: Math.min(plan.ndrpdr.minLoadPps, Math.min(plan.ndrpdr.maxLoadPps, capPps)),
    },
  };
}

/**
 * One calibration trial with `frame` (default: the matrix's smallest). A TG may reach the asked
 * rate with 64 B frames and fall short with 1518 B or 9000 B ones (trafgen copies every byte
 * through the kernel): the runner calibrates again for each larger frame of the matrix
 * (issue 14) and caps that frame's cells to what the TG achieved with it.
 */
export async function calibrateTg(
  generator: TrafficGenerator,
  plan: BenchPlan,
  durationS = CALIBRATION_DURATION_S,
  frame: FrameSize = smallestFrame(plan),
): Promise<{ plan: BenchPlan; report: CalibrationReport }> {
  const askedPps = Math.max(plan.mrr.maxLoadPps, plan.ndrpdr.maxLoadPps);
  const counts = await generator.runTrial({ loadPps: askedPps, durationS, frame });
  const capPps = capFrom(askedPps, counts.offeredCount, durationS, generator.directions);
  const achievedPps = Math.round(counts.offeredCount / durationS / Math.max(1, generator.directions));
  return {
    plan: capPps < askedPps ? cappedPlan(plan, capPps) : plan,
    report: {
      frame: frameLabel(frame),
      durationS,
      askedPps,
      achievedPps,
      capPps,
      capped: capPps < askedPps,
      rule:
        `one ${durationS} s trial at the max load before the matrix (smallest frame) and before the first cell of each ` +
        `other frame size; when the TG sent less ` +
        `than asked (beyond 0.5 %), max load = achieved rate x (1 - ${CALIBRATION_MARGIN}), per direction`,
    },
  };
}
