/**
 * A simulated device under test together with an ideal traffic generator, for tests and the
 * search benchmark. Time is virtual: a trial returns at once and only advances a counter of
 * trial-seconds.
 *
 * Model (per direction, all directions alike):
 * - Time is cut into intervals of (at most) one second. In each interval the device can forward
 *   `capacityPps x (1 + noiseStdev x z)` packets per second, z a standard normal deviate drawn
 *   afresh for every interval and clipped to [-4, 4]. Offered packets above that are dropped.
 * - With probability `burstsPerSecond x interval length` an interval contains a stall of
 *   `burstStallMs`: everything offered during the stall is dropped, whatever the load.
 * - The generator cannot offer more than `generatorCeilingPps` (if set); it then reports the lower
 *   offered count, as a real one would.
 * - Counts are whole packets; any positive expected loss drops at least one packet.
 *
 * "True" NDR/PDR of a model (see trueThroughput): the largest load at which at least half of all
 * one-second intervals meet the loss goal. That is the throughput notion CSIT reports (1 s
 * trials, exceed ratio 0.5); referenceThroughputForTrials gives the notion a search with longer
 * trials aims at, for comparison.
 */
import { normalUpperTail, SeededRandom } from "./prng";
import type { TrafficGenerator, TrialCounts, TrialRequest } from "./trafficGenerator";

export interface DeviceModel {
  readonly name: string;
  /** Median forwarding capacity per direction, pps. */
  readonly capacityPps: number;
  /** Relative standard deviation of the capacity from one second to the next (0 = steady). */
  readonly noiseStdev: number;
  /** Expected number of stalls per second of traffic (0 = none). */
  readonly burstsPerSecond: number;
  /** Length of one stall, milliseconds. */
  readonly burstStallMs: number;
  /** Highest rate per direction the generator can offer (undefined = unlimited). */
  readonly generatorCeilingPps?: number;
  /** Traffic directions (default 2). */
  readonly directions?: number;
}

const NOISE_CLIP = 4;
const SECOND = 1;

function validateModel(model: DeviceModel): void {
  const problems: string[] = [];
  if (!(model.capacityPps > 0)) problems.push("capacityPps must be > 0");
  if (!(model.noiseStdev >= 0 && model.noiseStdev < 0.25)) problems.push("noiseStdev must be in [0, 0.25)");
  if (!(model.burstsPerSecond >= 0 && model.burstsPerSecond <= 1))
    problems.push("burstsPerSecond must be in [0, 1]");
  if (!(model.burstStallMs >= 0)) problems.push("burstStallMs must be >= 0");
  if (model.generatorCeilingPps !== undefined && !(model.generatorCeilingPps > 0)) {
    problems.push("generatorCeilingPps must be > 0 when set");
  }
  const directions = model.directions ?? 2;
  if (!Number.isInteger(directions) || directions < 1)
    problems.push("directions must be a whole number >= 1");
  if (problems.length > 0)
    throw new RangeError(`invalid device model "${model.name}": ${problems.join("; ")}`);
}

/** What happened to the device during one interval of a trial. */
interface IntervalCondition {
  /** Capacity relative to the median (1 = median). */
  readonly capacityFactor: number;
  /** Seconds of the interval lost to a stall (0 if none). */
  readonly stallS: number;
}

function drawInterval(model: DeviceModel, random: SeededRandom, intervalS: number): IntervalCondition {
  const z = Math.max(-NOISE_CLIP, Math.min(NOISE_CLIP, random.nextNormal()));
  const stalled = random.nextFloat() < model.burstsPerSecond * intervalS;
  return {
    capacityFactor: Math.max(0, 1 + model.noiseStdev * z),
    stallS: stalled ? Math.min(intervalS, model.burstStallMs / 1000) : 0,
  };
}

/** Packets per direction the device drops in one interval at the given offered rate. */
function intervalLossPackets(
  model: DeviceModel,
  offeredPps: number,
  intervalS: number,
  condition: IntervalCondition,
): number {
  const capacityPps = model.capacityPps * condition.capacityFactor;
  const overload = Math.max(0, offeredPps - capacityPps);
  return offeredPps * condition.stallS + overload * (intervalS - condition.stallS);
}

/** A trial is cut into whole-second intervals (shorter trials: one interval). */
function intervalsOf(durationS: number): { count: number; lengthS: number } {
  const count = Math.max(1, Math.ceil(durationS / SECOND - 1e-9));
  return { count, lengthS: durationS / count };
}

export class SimulatedDevice implements TrafficGenerator {
  readonly directions: number;
  private readonly random: SeededRandom;
  private usedTrialSeconds = 0;
  private trials = 0;

  constructor(
    readonly model: DeviceModel,
    seed: number,
  ) {
    validateModel(model);
    this.directions = model.directions ?? 2;
    this.random = new SeededRandom(seed);
  }

  /** Sum of the durations of all trials run so far (virtual seconds). */
  get trialSecondsUsed(): number {
    return this.usedTrialSeconds;
  }

  get trialCount(): number {
    return this.trials;
  }

  async runTrial(request: TrialRequest): Promise<TrialCounts> {
    return this.simulate(request);
  }

  /** The same as runTrial, synchronously. */
  simulate(request: TrialRequest): TrialCounts {
    const ceiling = this.model.generatorCeilingPps ?? Infinity;
    const offeredPps = Math.min(request.loadPps, ceiling);
    const { count, lengthS } = intervalsOf(request.durationS);
    let lostPerDirection = 0;
    for (let index = 0; index < count; index++) {
      const condition = drawInterval(this.model, this.random, lengthS);
      lostPerDirection += intervalLossPackets(this.model, offeredPps, lengthS, condition);
    }
    this.usedTrialSeconds += request.durationS;
    this.trials += 1;
    const offeredCount = Math.round(offeredPps * request.durationS * this.directions);
    const expectedLoss = lostPerDirection * this.directions;
    const lostCount = Math.min(offeredCount, expectedLoss > 1e-9 ? Math.ceil(expectedLoss - 1e-9) : 0);
    return { offeredCount, receivedCount: offeredCount - lostCount };
  }
}

/** P(capacity >= requiredPps) in one interval, with the clipped normal noise of the model. */
function probabilityCapacityAtLeast(model: DeviceModel, requiredPps: number): number {
  if (requiredPps <= 0) return 1;
  if (model.noiseStdev === 0) return model.capacityPps >= requiredPps ? 1 : 0;
  const threshold = (requiredPps / model.capacityPps - 1) / model.noiseStdev;
  if (threshold <= -NOISE_CLIP) return 1;
  if (threshold > NOISE_CLIP) return 0;
  return normalUpperTail(threshold);
}

/** P(the loss ratio of a one-second interval at `loadPps` is <= lossRatio). */
export function probabilityIntervalMeetsGoal(model: DeviceModel, loadPps: number, lossRatio: number): number {
  const stallProbability = Math.min(1, model.burstsPerSecond * SECOND);
  const stallFraction = Math.min(1, model.burstStallMs / 1000 / SECOND);
  // Without a stall: loss ratio = max(0, 1 - capacity / load) <= goal.
  const calm = probabilityCapacityAtLeast(model, loadPps * (1 - lossRatio));
  // With a stall the rest of the second must keep the total within the goal.
  const stalled =
    stallFraction > lossRatio
      ? 0
      : probabilityCapacityAtLeast(model, loadPps * (1 - (lossRatio - stallFraction) / (1 - stallFraction)));
  return (1 - stallProbability) * calm + stallProbability * stalled;
}

/** Largest load in (0, upperPps] where `meets(load)` holds, for a predicate true below a threshold. */
function largestLoadWhere(meets: (loadPps: number) => boolean, upperPps: number): number | null {
  const smallest = 1e-6;
  if (!meets(smallest)) return null;
  if (meets(upperPps)) return upperPps;
  let low = smallest;
  let high = upperPps;
  for (let step = 0; step < 200 && high - low > 1e-9 * high; step++) {
    const middle = (low + high) / 2;
    if (meets(middle)) low = middle;
    else high = middle;
  }
  return low;
}

/**
 * The "true" throughput of a model for a loss goal: the largest load (per direction) at which
 * one-second intervals meet the goal at least `1 - exceedRatio` of the time. With the default
 * exceed ratio 0.5: half of all seconds. null if no load qualifies.
 * For a steady device (no noise, no stalls) this is capacity / (1 - lossRatio).
 */
export function trueThroughput(model: DeviceModel, lossRatio: number, exceedRatio = 0.5): number | null {
  validateModel(model);
  const upper =
    (model.capacityPps * (1 + NOISE_CLIP * model.noiseStdev)) / (1 - Math.min(lossRatio, 0.99)) + 1;
  return largestLoadWhere(
    (load) => probabilityIntervalMeetsGoal(model, load, lossRatio) >= 1 - exceedRatio - 1e-12,
    upper,
  );
}

/**
 * What a search with trials of `trialDurationS` aims at on this model: the largest load at which a
 * whole trial meets the loss goal with probability >= 1 - exceedRatio. Estimated by Monte Carlo
 * with `samples` simulated trials; the same samples are reused for every load, so the estimate
 * is a clean threshold. For 60 s trials and a zero-loss goal this is "every second of a minute
 * loss-free half of the time", lower than trueThroughput on any device that fluctuates.
 */
export function referenceThroughputForTrials(
  model: DeviceModel,
  lossRatio: number,
  trialDurationS: number,
  options: { samples?: number; seed?: number; exceedRatio?: number } = {},
): number | null {
  validateModel(model);
  const samples = options.samples ?? 2000;
  const exceedRatio = options.exceedRatio ?? 0.5;
  const random = new SeededRandom(options.seed ?? 1);
  const { count, lengthS } = intervalsOf(trialDurationS);
  const paths: IntervalCondition[][] = [];
  for (let sample = 0; sample < samples; sample++) {
    const path: IntervalCondition[] = [];
    for (let index = 0; index < count; index++) path.push(drawInterval(model, random, lengthS));
    paths.push(path);
  }
  const meets = (loadPps: number): boolean => {
    let passing = 0;
    for (const path of paths) {
      let lost = 0;
      for (const condition of path) lost += intervalLossPackets(model, loadPps, lengthS, condition);
      const trialLossRatio = lost / (loadPps * trialDurationS);
      if (trialLossRatio <= lossRatio + 1e-12) passing += 1;
    }
    return passing >= (1 - exceedRatio) * samples;
  };
  const upper =
    (model.capacityPps * (1 + NOISE_CLIP * model.noiseStdev)) / (1 - Math.min(lossRatio, 0.99)) + 1;
  return largestLoadWhere(meets, upper);
}

/** One line describing a model, for benchmark output. */
export function describeModel(model: DeviceModel): string {
  const parts = [`median capacity ${(model.capacityPps / 1e6).toFixed(3)} Mpps/direction`];
  parts.push(
    model.noiseStdev > 0 ? `capacity noise ${(model.noiseStdev * 100).toFixed(1)} % per second` : "no noise",
  );
  if (model.burstsPerSecond > 0) {
    parts.push(`stalls of ${model.burstStallMs} ms at ${model.burstsPerSecond} per second`);
  } else {
    parts.push("no stalls");
  }
  if (model.generatorCeilingPps !== undefined)
    parts.push(`generator ceiling ${model.generatorCeilingPps} pps`);
  return parts.join(", ");
}
