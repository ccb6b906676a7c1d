import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { CounterAnomalyError, counterDelta, parseCounter, type CounterReading } from "./counters";

const r = (value: bigint, ifindex = 5): CounterReading => ({ ifindex, value });
const TWO_32 = 1n << 32n;
const TWO_64 = 1n << 64n;

describe("counterDelta", () => {
  it("subtracts normally", () => {
    assert.deepEqual(counterDelta("tx", r(1000n), r(301000n), 1e6), { delta: 300000, kind: "normal" });
    assert.deepEqual(counterDelta("tx", r(7n), r(7n), 10), { delta: 0, kind: "normal" });
  });

  it("handles values beyond 2^53", () => {
    const big = (1n << 60n) + 12345n;
    assert.deepEqual(counterDelta("rx", r(big), r(big + 99n), 1000), { delta: 99, kind: "normal" });
  });

  it("corrects a 32-bit wrap", () => {
    assert.deepEqual(counterDelta("rx", r(TWO_32 - 100n), r(900n), 10000), { delta: 1000, kind: "wrap32" });
  });

  it("corrects a 64-bit wrap", () => {
    assert.deepEqual(counterDelta("rx", r(TWO_64 - 10n), r(20n), 1000), { delta: 30, kind: "wrap64" });
  });

  it("calls a re-created interface a reset", () => {
    assert.throws(
      () => counterDelta("rx", r(100n, 5), r(200n, 9), 1000),
      (e: unknown) =>
        e instanceof CounterAnomalyError && e.reason === "reset" && /ifindex 5 -> 9/.test(e.message),
    );
  });

  it("calls an implausible step back a reset (not a wrap)", () => {
    // 5,000,000 -> 1,000: a 32-bit wrap would mean ~4.29e9 packets in one trial.
    assert.throws(
      () => counterDelta("rx", r(5000000n), r(1000n), 2e6),
      (e: unknown) => e instanceof CounterAnomalyError && e.reason === "reset",
    );
  });

  it("refuses a forward jump larger than the trial could make (foreign traffic)", () => {
    assert.throws(
      () => counterDelta("rx", r(0n), r(5000000n), 2e6),
      (e: unknown) => e instanceof CounterAnomalyError && e.reason === "jump",
    );
  });

  it("recovers any plausible delta across any wrap point (property)", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: TWO_64 - 1n }),
        fc.integer({ min: 0, max: 5_000_000 }),
        (before, delta) => {
          const after = (before + BigInt(delta)) % TWO_64;
          const result = counterDelta("c", r(before), r(after), 10_000_000);
          assert.equal(result.delta, delta);
        },
      ),
    );
  });

  it("recovers 32-bit counters wrapping (property)", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: TWO_32 - 1n }),
        fc.integer({ min: 0, max: 5_000_000 }),
        (before, delta) => {
          const after = (before + BigInt(delta)) % TWO_32;
          assert.equal(counterDelta("c", r(before), r(after), 10_000_000).delta, delta);
        },
      ),
    );
  });
});

describe("parseCounter", () => {
  it("reads sysfs text", () => {
    assert.equal(parseCounter("18446744073709551615\n", "x"), TWO_64 - 1n);
    assert.throws(() => parseCounter("", "tx_packets"), /tx_packets: not a counter value/);
    assert.throws(() => parseCounter("-1", "x"));
  });
});
