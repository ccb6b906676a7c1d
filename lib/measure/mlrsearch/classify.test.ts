import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { classifyLoad, tallyEvidence, type LoadClass } from "./classify";
import type { LoadTrial } from "./trialDatabase";

const csitFinal = { lossRatio: 0, exceedRatio: 0.5, trialDurationS: 1, durationSumS: 21 };

function trials(spec: {
  met?: number;
  missed?: number;
  durationS?: number;
  missedLoss?: number;
}): LoadTrial[] {
  const durationS = spec.durationS ?? 1;
  const make = (lossRatio: number): LoadTrial => ({ durationS, lossRatio, forwardingRatePps: 1 });
  return [
    ...Array.from({ length: spec.met ?? 0 }, () => make(0)),
    ...Array.from({ length: spec.missed ?? 0 }, () => make(spec.missedLoss ?? 0.01)),
  ];
}

test("with CSIT's final phase a load needs 11 one-second trials on one side", () => {
  assert.equal(classifyLoad([], csitFinal), "undecided");
  assert.equal(classifyLoad(trials({ met: 10 }), csitFinal), "undecided");
  assert.equal(classifyLoad(trials({ met: 11 }), csitFinal), "lower");
  assert.equal(classifyLoad(trials({ missed: 10 }), csitFinal), "undecided");
  assert.equal(classifyLoad(trials({ missed: 11 }), csitFinal), "upper");
  assert.equal(classifyLoad(trials({ met: 11, missed: 10 }), csitFinal), "lower");
  assert.equal(classifyLoad(trials({ met: 10, missed: 11 }), csitFinal), "upper");
  // Beyond the duration sum, the majority decides.
  assert.equal(classifyLoad(trials({ met: 15, missed: 14 }), csitFinal), "lower");
  assert.equal(classifyLoad(trials({ met: 14, missed: 15 }), csitFinal), "upper");
});

test("a zero exceed ratio tolerates no missed trial at all", () => {
  const strict = { ...csitFinal, exceedRatio: 0, durationSumS: 3 };
  assert.equal(classifyLoad(trials({ met: 2 }), strict), "undecided");
  assert.equal(classifyLoad(trials({ met: 3 }), strict), "lower");
  assert.equal(classifyLoad(trials({ met: 30, missed: 1 }), strict), "upper");
});

test("the loss goal decides which trials met it", () => {
  const pdr = { ...csitFinal, lossRatio: 0.005 };
  assert.equal(classifyLoad(trials({ missed: 11, missedLoss: 0.004 }), pdr), "lower");
  assert.equal(classifyLoad(trials({ missed: 11, missedLoss: 0.006 }), pdr), "upper");
});

test("short trials never prove a lower bound, and short successes cancel short failures", () => {
  const target = { ...csitFinal, durationSumS: 3, trialDurationS: 2 };
  assert.equal(classifyLoad(trials({ met: 100, durationS: 1 }), target), "undecided");
  // 1 s short missed, 1 s short met: cancelled at exceed ratio 0.5 -> nothing counts.
  const mixed = [...trials({ met: 1 }), ...trials({ missed: 1 })];
  assert.deepEqual(tallyEvidence(mixed, target).countedMissedS, 0);
  assert.equal(classifyLoad(trials({ missed: 2, durationS: 1 }), target), "upper");
});

const trialArb = fc.record({
  durationS: fc.constantFrom(0.5, 1, 2),
  lossRatio: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.02, noNaN: true })),
  forwardingRatePps: fc.constant(1),
});
const targetArb = fc.record({
  exceedRatio: fc.constantFrom(0, 0.25, 0.5, 0.9),
  trialDurationS: fc.constantFrom(0.5, 1, 2),
  durationSumS: fc.constantFrom(1, 5.25, 21),
});

test("property: a looser loss goal never classifies a load worse", () => {
  const rank: Record<LoadClass, number> = { upper: 0, undecided: 1, lower: 2 };
  fc.assert(
    fc.property(fc.array(trialArb, { maxLength: 30 }), targetArb, (loadTrials, shape) => {
      const strict = classifyLoad(loadTrials, { ...shape, lossRatio: 0 });
      const loose = classifyLoad(loadTrials, { ...shape, lossRatio: 0.005 });
      if (strict === "lower") assert.equal(loose, "lower");
      if (loose === "upper") assert.equal(strict, "upper");
      assert.ok(rank[loose] >= rank[strict] || strict === "undecided" || loose === "undecided");
    }),
    { numRuns: 500 },
  );
});

test("property: a met full trial keeps a lower bound lower; a missed one keeps an upper bound upper", () => {
  fc.assert(
    fc.property(fc.array(trialArb, { maxLength: 30 }), targetArb, (loadTrials, shape) => {
      const target = { ...shape, lossRatio: 0.005 };
      const before = classifyLoad(loadTrials, target);
      const full = target.trialDurationS;
      if (before === "lower") {
        assert.equal(
          classifyLoad([...loadTrials, { durationS: full, lossRatio: 0, forwardingRatePps: 1 }], target),
          "lower",
        );
      }
      if (before === "upper") {
        assert.equal(
          classifyLoad([...loadTrials, { durationS: full, lossRatio: 1, forwardingRatePps: 1 }], target),
          "upper",
        );
      }
    }),
    { numRuns: 500 },
  );
});

test("property: enough full-length trial time always decides", () => {
  fc.assert(
    fc.property(fc.array(fc.boolean(), { minLength: 21, maxLength: 40 }), (outcomes) => {
      const loadTrials = outcomes.map((met) => ({
        durationS: 1,
        lossRatio: met ? 0 : 0.1,
        forwardingRatePps: 1,
      }));
      assert.notEqual(classifyLoad(loadTrials, csitFinal), "undecided");
    }),
  );
});
