import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { runBinarySearch } from "./binarySearch";
import { SimulatedDevice, trueThroughput, type DeviceModel } from "./simulatedDevice";
import { relativeWidth } from "./units";

const steady = (capacityPps: number): DeviceModel => ({
  name: "steady",
  capacityPps,
  noiseStdev: 0,
  burstsPerSecond: 0,
  burstStallMs: 0,
});
const config = { minLoadPps: 9001, maxLoadPps: 14_880_000, frame: 64, trialDurationS: 60 } as const;

test("property: on a noise-free device both goals end with bounds around the truth", async () => {
  await fc.assert(
    fc.asyncProperty(fc.double({ min: 10_000, max: 14e6, noNaN: true }), async (capacity) => {
      const model = steady(capacity);
      const result = await runBinarySearch(new SimulatedDevice(model, 1), config);
      for (const goal of result.goals) {
        const truth = trueThroughput(model, goal.lossRatio) as number;
        if (goal.outcome === "max-load-passes") {
          assert.ok(truth + 1 >= config.maxLoadPps);
          continue;
        }
        assert.equal(goal.outcome, "found");
        const lower = goal.lowerBoundPps as number;
        const upper = goal.upperBoundPps as number;
        assert.ok(lower <= truth + 1 && truth < upper + 1);
        assert.ok(relativeWidth(lower, upper) <= 0.005 + 1e-9);
      }
      assert.equal(result.trialSecondsUsed, result.trialCount * 60);
    }),
    { numRuns: 100 },
  );
});

test("NDR and PDR share trials: fewer trials than two separate searches", async () => {
  const both = await runBinarySearch(new SimulatedDevice(steady(6e6), 1), config);
  const ndrOnly = await runBinarySearch(new SimulatedDevice(steady(6e6), 1), { ...config, lossRatios: [0] });
  const pdrOnly = await runBinarySearch(new SimulatedDevice(steady(6e6), 1), {
    ...config,
    lossRatios: [0.005],
  });
  assert.ok(both.trialCount < ndrOnly.trialCount + pdrOnly.trialCount);
});

test("edge outcomes: max load passing, min load failing, time limit", async () => {
  const fast = await runBinarySearch(new SimulatedDevice(steady(2e7), 1), config);
  assert.deepEqual(
    fast.goals.map((goal) => goal.outcome),
    ["max-load-passes", "max-load-passes"],
  );
  assert.equal(fast.trialCount, 1);
  const slow = await runBinarySearch(new SimulatedDevice(steady(5000), 1), config);
  assert.deepEqual(
    slow.goals.map((goal) => [goal.outcome, goal.lowerBoundPps, goal.upperBoundPps]),
    [
      ["min-load-fails", null, 9001],
      ["min-load-fails", null, 9001],
    ],
  );
  const cut = await runBinarySearch(new SimulatedDevice(steady(6e6), 1), { ...config, timeLimitS: 200 });
  assert.equal(cut.trialSecondsUsed, 180);
  assert.equal(cut.goals[0]?.outcome, "time-limit");
});
