import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  describeModel,
  probabilityIntervalMeetsGoal,
  referenceThroughputForTrials,
  SimulatedDevice,
  trueThroughput,
  type DeviceModel,
} from "./simulatedDevice";

const steady: DeviceModel = {
  name: "steady",
  capacityPps: 1e6,
  noiseStdev: 0,
  burstsPerSecond: 0,
  burstStallMs: 0,
};
const noisy: DeviceModel = { ...steady, name: "noisy", noiseStdev: 0.02 };
const bursty: DeviceModel = {
  ...steady,
  name: "bursty",
  noiseStdev: 0.005,
  burstsPerSecond: 0.02,
  burstStallMs: 10,
};

function lossRatio(device: SimulatedDevice, loadPps: number, durationS = 1): number {
  const counts = device.simulate({ loadPps, durationS, frame: 64 });
  return (counts.offeredCount - counts.receivedCount) / counts.offeredCount;
}

test("a steady device forwards exactly its capacity", () => {
  const device = new SimulatedDevice(steady, 1);
  assert.equal(lossRatio(device, 1e6), 0);
  assert.equal(lossRatio(device, 999_000), 0);
  assert.ok(Math.abs(lossRatio(device, 2e6) - 0.5) < 1e-9);
  // Even a tiny overload loses at least one packet.
  assert.ok(lossRatio(device, 1e6 + 1) > 0);
});

test("trials account virtual trial-seconds without sleeping", async () => {
  const device = new SimulatedDevice(steady, 1);
  const started = Date.now();
  for (let index = 0; index < 100; index++) await device.runTrial({ loadPps: 5e5, durationS: 60, frame: 64 });
  assert.equal(device.trialSecondsUsed, 6000);
  assert.equal(device.trialCount, 100);
  assert.ok(Date.now() - started < 1000);
});

test("the same seed reproduces the same trials", () => {
  const run = (seed: number): number[] => {
    const device = new SimulatedDevice(bursty, seed);
    return Array.from(
      { length: 50 },
      () => device.simulate({ loadPps: 995_000, durationS: 1, frame: 64 }).receivedCount,
    );
  };
  assert.deepEqual(run(3), run(3));
  assert.notDeepEqual(run(3), run(4));
});

test("a noisy device loses packets in about half the seconds at its median capacity", () => {
  const device = new SimulatedDevice(noisy, 9);
  let lossy = 0;
  for (let index = 0; index < 2000; index++) if (lossRatio(device, 1e6) > 0) lossy += 1;
  assert.ok(lossy > 900 && lossy < 1100, `lossy seconds ${lossy}`);
});

test("stalls lose packets at any load, about as often as configured", () => {
  const device = new SimulatedDevice({ ...steady, burstsPerSecond: 0.1, burstStallMs: 10 }, 5);
  const losses = Array.from({ length: 2000 }, () => lossRatio(device, 1000));
  const stalled = losses.filter((loss) => loss > 0);
  assert.ok(stalled.length > 150 && stalled.length < 250, `stalled seconds ${stalled.length}`);
  for (const loss of stalled) assert.ok(Math.abs(loss - 0.01) < 1e-3);
});

test("the generator ceiling caps what is offered", () => {
  const device = new SimulatedDevice({ ...steady, generatorCeilingPps: 300_000 }, 1);
  const counts = device.simulate({ loadPps: 500_000, durationS: 2, frame: 64 });
  assert.equal(counts.offeredCount, 300_000 * 2 * 2);
  assert.equal(counts.receivedCount, counts.offeredCount);
});

test("true NDR/PDR of a steady device are capacity and capacity / (1 - loss)", () => {
  fc.assert(
    fc.property(
      fc.double({ min: 1e4, max: 1e8, noNaN: true }),
      fc.constantFrom(0, 0.001, 0.005, 0.1),
      (capacity, loss) => {
        const value = trueThroughput({ ...steady, capacityPps: capacity }, loss);
        assert.ok(value !== null);
        assert.ok(Math.abs(value / (capacity / (1 - loss)) - 1) < 1e-8);
      },
    ),
  );
});

test("true throughput is where half the seconds meet the goal", () => {
  for (const model of [noisy, bursty]) {
    for (const loss of [0, 0.005]) {
      const value = trueThroughput(model, loss);
      assert.ok(value !== null);
      assert.ok(Math.abs(probabilityIntervalMeetsGoal(model, value, loss) - 0.5) < 1e-6);
    }
  }
  // Stalls in more than half the seconds leave no load that meets a zero-loss goal.
  assert.equal(trueThroughput({ ...steady, burstsPerSecond: 0.6, burstStallMs: 10 }, 0), null);
});

test("the Monte Carlo reference for 1 s trials agrees with the analytic truth", () => {
  for (const model of [noisy, bursty]) {
    const truth = trueThroughput(model, 0) as number;
    const reference = referenceThroughputForTrials(model, 0, 1, { samples: 4000, seed: 3 }) as number;
    assert.ok(Math.abs(reference / truth - 1) < 0.002, `${model.name}: ${reference} vs ${truth}`);
  }
});

test("60 s trials aim lower on a noisy device, and at nothing for NDR on a bursty one", () => {
  const truth = trueThroughput(noisy, 0) as number;
  const minute = referenceThroughputForTrials(noisy, 0, 60, { samples: 500 }) as number;
  assert.ok(minute < truth * 0.97);
  assert.equal(referenceThroughputForTrials(bursty, 0, 60, { samples: 500 }), null);
});

test("invalid models are refused with every problem named", () => {
  assert.throws(
    () => new SimulatedDevice({ ...steady, capacityPps: 0, noiseStdev: -1 }, 1),
    /capacityPps must be > 0; noiseStdev/,
  );
  assert.match(describeModel(bursty), /stalls of 10 ms/);
});
