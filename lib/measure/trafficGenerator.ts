/**
 * The one seam between the measurement logic and the world: a traffic generator offers a load
 * for a while and reports what it sent and what came back. TRex, trafgen or a simulated device
 * all sit behind this interface; nothing else in lib/measure does I/O.
 */
import type { FrameSize } from "./units";

export interface TrialRequest {
  /** Intended load per direction, packets per second (TRex: the per-port "mult" in pps). */
  readonly loadPps: number;
  readonly durationS: number;
  readonly frame: FrameSize;
}

/**
 * One direction of a trial: what left TG port `txPort` and what arrived back on `rxPort` (for a
 * CSIT 2-port setup direction 0 is port 0 -> port 1, direction 1 is port 1 -> port 0).
 */
export interface DirectionCounts {
  readonly txPort: number;
  readonly rxPort: number;
  readonly offeredCount: number;
  readonly receivedCount: number;
  /**
   * bytes sent / received in this direction, as the generator's ports count them (Linux: frames
   * without the FCS), when it can tell: received / receivedCount is the mean size that arrived
   */
  readonly offeredBytes?: number;
  readonly receivedBytes?: number;
}

/** What the generator counted over the whole trial, summed over all directions. */
export interface TrialCounts {
  readonly offeredCount: number;
  readonly receivedCount: number;
  /**
   * The same counts per direction, when the generator can tell them apart (their sums must be
   * the totals above). Reported per direction as CSIT does; the search uses the totals.
   */
  readonly perDirection?: readonly DirectionCounts[];
}

export interface TrafficGenerator {
  /** Number of traffic directions (2 for the usual bidirectional CSIT setup). */
  readonly directions: number;
  /** Offer `loadPps` per direction for `durationS` seconds. Real generators take real time. */
  runTrial(request: TrialRequest): Promise<TrialCounts>;
}

/**
 * A generator that sends noticeably fewer packets than intended has not tested the load it was
 * asked for. Beyond this relative shortfall a trial is flagged. 0.5 % is the accuracy trafgen
 * reached here up to ~300 kpps; TRex is usually far more exact.
 */
export const DEFAULT_SHORTFALL_TOLERANCE = 0.005;

/** One finished trial, with the derived figures every consumer needs. */
export interface TrialRecord extends TrialRequest, TrialCounts {
  readonly directions: number;
  /** loadPps x durationS x directions: what should have been sent. */
  readonly intendedCount: number;
  /** (offered - received) / offered, clamped to [0, 1]; 1 when nothing was offered. */
  readonly lossRatio: number;
  /** (intended - received) / intended, clamped to [0, 1]: the loss as if the shortfall were dropped. */
  readonly lossRatioOfIntended: number;
  /** Received packets per second per direction. */
  readonly forwardingRatePps: number;
  /** Offered packets per second per direction (what the generator really achieved). */
  readonly offeredRatePps: number;
  /** True when the generator sent less than intended by more than the tolerance. */
  readonly generatorShortfall: boolean;
}

/** The generator returned counts that cannot be right (negative, fractional, not numbers). */
export class InvalidTrialCountsError extends Error {
  constructor(
    readonly request: TrialRequest,
    readonly counts: TrialCounts,
  ) {
    super(
      `traffic generator returned impossible counts for ${request.loadPps} pps x ${request.durationS} s: ` +
        `offered=${counts.offeredCount} received=${counts.receivedCount}`,
    );
    this.name = "InvalidTrialCountsError";
  }
}

function isCount(value: number): boolean {
  return Number.isInteger(value) && value >= 0;
}

function clampRatio(ratio: number): number {
  return Math.min(1, Math.max(0, ratio));
}

/** Turns a request and the generator's counts into a checked TrialRecord. */
export function recordTrial(
  request: TrialRequest,
  counts: TrialCounts,
  directions: number,
  shortfallTolerance = DEFAULT_SHORTFALL_TOLERANCE,
): TrialRecord {
  if (!isCount(counts.offeredCount) || !isCount(counts.receivedCount)) {
    throw new InvalidTrialCountsError(request, counts);
  }
  if (counts.perDirection) {
    const dirs = counts.perDirection;
    const sum = (k: "offeredCount" | "receivedCount"): number => dirs.reduce((a, d) => a + d[k], 0);
    if (
      dirs.length !== directions ||
      dirs.some((d) => !isCount(d.offeredCount) || !isCount(d.receivedCount)) ||
      sum("offeredCount") !== counts.offeredCount ||
      sum("receivedCount") !== counts.receivedCount
    ) {
      throw new InvalidTrialCountsError(request, counts);
    }
  }
  const intendedCount = request.loadPps * request.durationS * directions;
  const { offeredCount, receivedCount } = counts;
  const lossRatio = offeredCount === 0 ? 1 : clampRatio((offeredCount - receivedCount) / offeredCount);
  const lossRatioOfIntended =
    intendedCount === 0 ? 0 : clampRatio((intendedCount - receivedCount) / intendedCount);
  const perDirectionSecond = request.durationS * directions;
  return {
    ...request,
    ...counts,
    directions,
    intendedCount,
    lossRatio,
    lossRatioOfIntended,
    forwardingRatePps: receivedCount / perDirectionSecond,
    offeredRatePps: offeredCount / perDirectionSecond,
    // Rounding to whole packets must not count as a shortfall, hence the one-packet allowance.
    generatorShortfall: offeredCount + 1 < intendedCount * (1 - shortfallTolerance),
  };
}

function assertValidRequest(request: TrialRequest): void {
  if (!(request.loadPps > 0) || !Number.isFinite(request.loadPps)) {
    throw new RangeError(`trial load must be a positive finite pps value, got ${request.loadPps}`);
  }
  if (!(request.durationS > 0) || !Number.isFinite(request.durationS)) {
    throw new RangeError(
      `trial duration must be a positive finite number of seconds, got ${request.durationS}`,
    );
  }
}

/** Runs one trial on the generator and returns the checked record. */
export async function runTrial(
  generator: TrafficGenerator,
  request: TrialRequest,
  shortfallTolerance = DEFAULT_SHORTFALL_TOLERANCE,
): Promise<TrialRecord> {
  assertValidRequest(request);
  const counts = await generator.runTrial(request);
  return recordTrial(request, counts, generator.directions, shortfallTolerance);
}

/** A generator shortfall as reported to users: what was asked, what was achieved. */
export interface ShortfallReport {
  readonly intendedLoadPps: number;
  readonly achievedLoadPps: number;
  readonly durationS: number;
  readonly intendedCount: number;
  readonly offeredCount: number;
}

export function shortfallOf(trial: TrialRecord): ShortfallReport {
  return {
    intendedLoadPps: trial.loadPps,
    achievedLoadPps: trial.offeredRatePps,
    durationS: trial.durationS,
    intendedCount: trial.intendedCount,
    offeredCount: trial.offeredCount,
  };
}
