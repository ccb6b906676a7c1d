import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { nextStep, splitLoad } from "./nextLoad";
import { planPhases } from "./phases";
import { TrialDatabase } from "./trialDatabase";
import { NDR_GOAL } from "./config";
import { relativeWidth } from "../units";

test("phases get coarser by the scale: widths, trial time", () => {
  const phases = planPhases(NDR_GOAL, 2, 4);
  assert.deepEqual(
    phases.map((phase) => [phase.relativeWidth, phase.durationSumS, phase.trialDurationS, phase.isFinal]),
    [
      [0.08, 21 / 16, 1, false],
      [0.02, 21 / 4, 1, false],
      [0.005, 21, 1, true],
    ],
  );
  const stretched = planPhases({ ...NDR_GOAL, initialTrialDurationS: 1, finalTrialDurationS: 4 }, 2, 4);
  assert.deepEqual(
    stretched.map((phase) => phase.trialDurationS),
    [1, 2, 4],
  );
});

test("property: a split load lies strictly between the bounds, and near the goal it finishes the phase", () => {
  fc.assert(
    fc.property(
      fc.double({ min: 1e4, max: 1e7, noNaN: true }),
      fc.double({ min: 1.0001, max: 1000, noNaN: true }),
      fc.constantFrom(0.005, 0.02, 0.08),
      (lower, factor, width) => {
        const upper = lower * factor;
        fc.pre(relativeWidth(lower, upper) > width);
        const split = splitLoad(lower, upper, width);
        assert.ok(split > lower && split < upper, `${lower} < ${split} < ${upper}`);
        if (Math.log(upper / lower) <= 2 * -Math.log(1 - width)) {
          assert.ok(relativeWidth(split, upper) <= width + 1e-12);
          assert.ok(relativeWidth(lower, split) <= width + 1e-12);
        }
      },
    ),
    { numRuns: 500 },
  );
});

const limits = { minLoadPps: 9001, maxLoadPps: 1e7 };
const trial = (lossRatio: number, forwardingRatePps = 0) => ({ durationS: 1, lossRatio, forwardingRatePps });

test("the search starts at max load, then steps down to the rate the device forwarded", () => {
  const phases = planPhases(NDR_GOAL, 2, 4);
  const database = new TrialDatabase();
  assert.deepEqual(nextStep(database, phases, 0, limits), {
    kind: "measure",
    loadPps: 1e7,
    durationS: 1,
    why: "start at max load",
  });
  database.add(1e7, trial(0.4, 6e6));
  const step = nextStep(database, phases, 0, limits);
  assert.equal(step.kind === "measure" && step.loadPps, 6e6);
});

test("lossless max load ends the goal; lossy min load ends it the other way", () => {
  const phases = planPhases(NDR_GOAL, 0, 4);
  const clean = new TrialDatabase();
  for (let index = 0; index < 11; index++) clean.add(1e7, trial(0, 1e7));
  assert.deepEqual(nextStep(clean, phases, 0, limits), { kind: "done", outcome: "max-load-meets-goal" });
  const lossy = new TrialDatabase();
  for (let index = 0; index < 11; index++) lossy.add(1e7, trial(0.5, 10));
  for (let index = 0; index < 11; index++) lossy.add(9001, trial(0.5, 10));
  assert.deepEqual(nextStep(lossy, phases, 0, limits), { kind: "done", outcome: "min-load-fails-goal" });
});

test("narrow enough bounds are confirmed with the phase's trial time before the phase ends", () => {
  const phases = planPhases(NDR_GOAL, 0, 4);
  const database = new TrialDatabase();
  for (let index = 0; index < 11; index++) database.add(1e7, trial(0.5, 5e6));
  database.add(5e6, trial(0));
  database.add(5.02e6, trial(0.001));
  // Only a single trial each: both bounds still need confirming (upper first).
  const first = nextStep(database, phases, 0, limits);
  assert.equal(first.kind === "measure" && first.loadPps, 5.02e6);
});
