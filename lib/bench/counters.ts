/**
 * Interface counter arithmetic for trials: the difference of two readings of
 * /sys/class/net/<if>/statistics/*_packets, robust against wrap-around and resets.
 *
 * Linux keeps these counters as 64-bit values (rtnl_link_stats64), but some drivers still feed them
 * from 32-bit hardware registers, and an interface that was deleted and re-created (same name, new
 * ifindex) starts from zero. A reset cannot be corrected for: the trial has to be repeated.
 */

export interface CounterReading {
  /** interface index at the time of the reading: a different one means the interface was re-created */
  readonly ifindex: number;
  /** raw decimal text from sysfs (may exceed 2^53) */
  readonly value: bigint;
}

export type DeltaKind = "normal" | "wrap32" | "wrap64";

export interface CounterDelta {
  readonly delta: number;
  readonly kind: DeltaKind;
}

/** The counters cannot be trusted for this trial: reset, or a jump larger than the trial could make. */
export class CounterAnomalyError extends Error {
  constructor(
    readonly counter: string,
    readonly reason: "reset" | "jump",
    readonly before: CounterReading,
    readonly after: CounterReading,
    why: string,
  ) {
    super(
      `${counter}: ${reason === "reset" ? "counter reset" : "implausible jump"} during the trial (${why}); the trial must be repeated`,
    );
    this.name = "CounterAnomalyError";
  }
}

const TWO_32 = 1n << 32n;
const TWO_64 = 1n << 64n;

export function parseCounter(text: string, what: string): bigint {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) throw new Error(`${what}: not a counter value: ${JSON.stringify(text)}`);
  return BigInt(trimmed);
}

/**
 * after - before, with wrap-around at 2^32 or 2^64 when that gives a plausible value (at most
 * `maxPlausible` packets, e.g. a few times what the trial could have sent). Anything else that went
 * backwards, or a changed ifindex, is a reset; a larger forward jump is foreign traffic:
 * CounterAnomalyError either way.
 */
export function counterDelta(
  counter: string,
  before: CounterReading,
  after: CounterReading,
  maxPlausible: number,
): CounterDelta {
  if (before.ifindex !== after.ifindex) {
    throw new CounterAnomalyError(
      counter,
      "reset",
      before,
      after,
      `ifindex ${before.ifindex} -> ${after.ifindex}`,
    );
  }
  const limit = BigInt(Math.max(0, Math.floor(maxPlausible)));
  if (after.value >= before.value) {
    const delta = after.value - before.value;
    if (delta > limit) {
      throw new CounterAnomalyError(
        counter,
        "jump",
        before,
        after,
        `jump of ${delta} exceeds the plausible ${limit}`,
      );
    }
    return { delta: Number(delta), kind: "normal" };
  }
  if (before.value < TWO_32 && after.value < TWO_32) {
    const wrapped = TWO_32 - before.value + after.value;
    if (wrapped <= limit) return { delta: Number(wrapped), kind: "wrap32" };
  }
  if (before.value < TWO_64 && after.value < TWO_64) {
    const wrapped = TWO_64 - before.value + after.value;
    if (wrapped <= limit) return { delta: Number(wrapped), kind: "wrap64" };
  }
  throw new CounterAnomalyError(
    counter,
    "reset",
    before,
    after,
    `went back from ${before.value} to ${after.value}`,
  );
}
