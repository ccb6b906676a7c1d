import { test } from "node:test";
import assert from "node:assert/strict";
import { measureMrr } from "./mrr";
import { SimulatedDevice } from "./simulatedDevice";
import { coefficientOfVariation, mean, median, sampleStdev } from "./stats";
import type { TrafficGenerator, TrialCounts } from "./trafficGenerator";

function scripted(received: readonly number[], offered = 2000): TrafficGenerator & { calls: number } {
  const generator = {
    directions: 2,
    calls: 0,
    runTrial: async (): Promise<TrialCounts> => {
      const value = received[generator.calls] ?? 0;
      generator.calls += 1;
      return { offeredCount: offered, receivedCount: value };
    },
  };
  return generator;
}

test("MRR reports every trial and their average, stdev and CV", async () => {
  const generator = scripted([1000, 1200, 1400]);
  const result = await measureMrr(generator, { maxLoadPps: 1000, frame: 64, trials: 3, trialDurationS: 1 });
  assert.equal(generator.calls, 3);
  assert.deepEqual(
    result.trials.map((trial) => trial.receivedPps),
    [1000, 1200, 1400],
  );
  assert.equal(result.averagePps, 1200);
  assert.equal(result.stdevPps, 200);
  assert.ok(Math.abs(result.coefficientOfVariation - 1 / 6) < 1e-12);
  assert.equal(result.averageL1Bps, 1200 * 84 * 8);
  assert.deepEqual(
    result.trials.map((trial) => trial.lossRatio),
    [0.5, 0.4, 0.3],
  );
  assert.equal(result.shortfalls.length, 0);
});

test("MRR uses CSIT's 10 x 1 s by default and the mean frame for IMIX", async () => {
  const generator = scripted(new Array<number>(10).fill(2000));
  const result = await measureMrr(generator, { maxLoadPps: 1000, frame: "IMIX_v4_1" });
  assert.equal(result.trials.length, 10);
  assert.equal(result.trialDurationS, 1);
  assert.ok(Math.abs(result.averageL1Bps - 2000 * (353.8333 + 20) * 8) < 1);
  assert.equal(result.stdevPps, 0);
});

test("MRR reports a generator that did not reach the max load", async () => {
  const generator = scripted([900, 900], 1000);
  const result = await measureMrr(generator, { maxLoadPps: 1000, frame: 64, trials: 2 });
  assert.equal(result.shortfalls.length, 2);
  assert.equal(result.shortfalls[0]?.achievedLoadPps, 500);
  assert.ok(result.trials.every((trial) => trial.generatorShortfall));
});

test("MRR on a simulated device is the capacity, with spread when it is noisy", async () => {
  const steady = await measureMrr(
    new SimulatedDevice(
      { name: "s", capacityPps: 1e6, noiseStdev: 0, burstsPerSecond: 0, burstStallMs: 0 },
      1,
    ),
    { maxLoadPps: 2e6, frame: 64 },
  );
  assert.equal(steady.averagePps, 2e6);
  assert.equal(steady.coefficientOfVariation, 0);
  const noisy = await measureMrr(
    new SimulatedDevice(
      { name: "n", capacityPps: 1e6, noiseStdev: 0.02, burstsPerSecond: 0, burstStallMs: 0 },
      1,
    ),
    { maxLoadPps: 2e6, frame: 64, trials: 50 },
  );
  assert.ok(noisy.coefficientOfVariation > 0.01 && noisy.coefficientOfVariation < 0.03);
});

test("MRR refuses a trial count that is not a positive whole number", async () => {
  await assert.rejects(measureMrr(scripted([]), { maxLoadPps: 1, frame: 64, trials: 0 }), RangeError);
});

test("statistics helpers", () => {
  assert.equal(mean([1, 2, 3]), 2);
  assert.ok(Number.isNaN(mean([])));
  assert.equal(sampleStdev([5]), 0);
  assert.equal(sampleStdev([1, 3]), Math.SQRT2);
  assert.ok(Number.isNaN(coefficientOfVariation([0, 0])));
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
});
