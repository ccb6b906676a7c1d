import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  makeSearchConfig,
  NDR_GOAL,
  PDR_GOAL,
  runMlrSearch,
  SearchConfigError,
  type SearchResult,
} from "./index";
import { SimulatedDevice, trueThroughput, type DeviceModel } from "../simulatedDevice";
import type { TrafficGenerator } from "../trafficGenerator";

const MAX_LOAD = 14_880_000;
const base = { maxLoadPps: MAX_LOAD, frame: 64 } as const;

function steady(capacityPps: number, extra: Partial<DeviceModel> = {}): DeviceModel {
  return { name: "steady", capacityPps, noiseStdev: 0, burstsPerSecond: 0, burstStallMs: 0, ...extra };
}

function goal(result: SearchResult, name: string) {
  const found = result.goals.find((entry) => entry.goal.name === name);
  assert.ok(found, `goal ${name} in result`);
  return found;
}

/** Tolerance for whole-packet rounding in the simulated counts. */
const PACKET_SLACK_PPS = 1;

const deviceArb = fc.record({
  name: fc.constant("random"),
  capacityPps: fc.oneof(
    fc.double({ min: 1e5, max: 2e7, noNaN: true }),
    fc.double({ min: 1000, max: 9000, noNaN: true }),
  ),
  noiseStdev: fc.constantFrom(0, 0.005, 0.02, 0.05),
  burstsPerSecond: fc.constantFrom(0, 0.02, 0.3),
  burstStallMs: fc.constantFrom(0, 10, 100),
});

test("property: NDR <= PDR <= max load, for every bound, on any device", async () => {
  await fc.assert(
    fc.asyncProperty(deviceArb, fc.integer({ min: 1, max: 1e6 }), async (model, seed) => {
      const result = await runMlrSearch(new SimulatedDevice(model, seed), base);
      const ndr = goal(result, "NDR");
      const pdr = goal(result, "PDR");
      const orNone = (value: number | null, none: number): number => value ?? none;
      assert.ok(orNone(ndr.relevantLowerBoundPps, 0) <= orNone(pdr.relevantLowerBoundPps, 0));
      assert.ok(orNone(ndr.relevantUpperBoundPps, Infinity) <= orNone(pdr.relevantUpperBoundPps, Infinity));
      assert.ok(orNone(pdr.relevantLowerBoundPps, 0) <= MAX_LOAD);
      for (const entry of [ndr, pdr]) {
        if (entry.relevantLowerBoundPps !== null && entry.relevantUpperBoundPps !== null) {
          assert.ok(entry.relevantLowerBoundPps < entry.relevantUpperBoundPps);
        }
        if (entry.outcome === "found")
          assert.ok((entry.relativeWidth ?? 1) <= entry.goal.relativeWidth + 1e-9);
      }
      assert.ok(result.trialSecondsUsed <= result.config.timeLimitS);
    }),
    { numRuns: 150 },
  );
});

test("property: on a noise-free device the bounds contain the true NDR and PDR", async () => {
  await fc.assert(
    fc.asyncProperty(fc.double({ min: 2000, max: 2e7, noNaN: true }), async (capacity) => {
      const model = steady(capacity);
      const result = await runMlrSearch(new SimulatedDevice(model, 1), base);
      assert.equal(result.stopReason, "goals-reached");
      for (const entry of result.goals) {
        const truth = trueThroughput(model, entry.goal.lossRatio) as number;
        const lower = entry.relevantLowerBoundPps;
        const upper = entry.relevantUpperBoundPps;
        if (entry.outcome === "found") {
          assert.ok(lower !== null && upper !== null);
          assert.ok(lower <= truth + PACKET_SLACK_PPS, `${entry.goal.name}: lower ${lower} > true ${truth}`);
          assert.ok(truth < upper + PACKET_SLACK_PPS, `${entry.goal.name}: upper ${upper} <= true ${truth}`);
        } else if (entry.outcome === "max-load-meets-goal") {
          assert.ok(truth + PACKET_SLACK_PPS >= MAX_LOAD);
        } else {
          assert.equal(entry.outcome, "min-load-fails-goal");
          assert.equal(lower, null);
          assert.ok(truth < 9001 + PACKET_SLACK_PPS);
        }
      }
    }),
    { numRuns: 150 },
  );
});

test("property: the search ends within its time limit, and says so when cut", async () => {
  await fc.assert(
    fc.asyncProperty(
      deviceArb,
      fc.integer({ min: 1, max: 1e6 }),
      fc.double({ min: 0.5, max: 120, noNaN: true }),
      async (model, seed, timeLimitS) => {
        const device = new SimulatedDevice(model, seed);
        const result = await runMlrSearch(device, { ...base, timeLimitS });
        assert.ok(result.trialSecondsUsed <= timeLimitS, `${result.trialSecondsUsed} > ${timeLimitS}`);
        assert.equal(result.trialSecondsUsed, device.trialSecondsUsed);
        if (result.stopReason === "time-limit") {
          assert.ok(result.goals.some((entry) => entry.outcome === "time-limit"));
        } else {
          assert.equal(result.stopReason, "goals-reached");
          assert.ok(result.goals.every((entry) => entry.outcome !== "time-limit"));
        }
      },
    ),
    { numRuns: 150 },
  );
});

test("CSIT defaults: NDR 0 and PDR 0.5 %, exceed 0.5, width 0.5 %, 1 s trials, 21 s sum, 1200 s, min 9001 pps", () => {
  const config = makeSearchConfig(base);
  assert.deepEqual(
    config.goals.map((entry) => [entry.name, entry.lossRatio]),
    [
      ["NDR", 0],
      ["PDR", 0.005],
    ],
  );
  for (const entry of config.goals) {
    assert.equal(entry.exceedRatio, 0.5);
    assert.equal(entry.relativeWidth, 0.005);
    assert.equal(entry.finalTrialDurationS, 1);
    assert.equal(entry.durationSumS, 21);
  }
  assert.equal(config.timeLimitS, 1200);
  assert.equal(config.minLoadPps, 9001);
});

test("the final bounds of a noise-free search rest on 21 s of trials each", async () => {
  const result = await runMlrSearch(new SimulatedDevice(steady(6e6), 1), base);
  for (const entry of result.goals) {
    for (const bound of [entry.relevantLowerBoundPps, entry.relevantUpperBoundPps]) {
      const count = result.trials.filter((trial) => trial.loadPps === bound).length;
      assert.ok(count >= 11, `${entry.goal.name} bound ${bound} has ${count} trials`);
    }
  }
  const ndr = goal(result, "NDR");
  assert.equal(ndr.conditionalThroughputPps, ndr.relevantLowerBoundPps);
  assert.deepEqual(ndr.aggregateLowerBound, {
    pps: (ndr.relevantLowerBoundPps as number) * 2,
    l1Bps: (ndr.relevantLowerBoundPps as number) * 2 * 84 * 8,
  });
  const pdr = goal(result, "PDR");
  const pdrLower = pdr.relevantLowerBoundPps as number;
  const pdrConditional = pdr.conditionalThroughputPps as number;
  assert.ok(pdrConditional <= pdrLower && pdrConditional >= pdrLower * 0.995);
});

test("min load already lossy: no lower bound, reported as such", async () => {
  const result = await runMlrSearch(new SimulatedDevice(steady(5000), 1), base);
  assert.equal(result.stopReason, "goals-reached");
  for (const entry of result.goals) {
    assert.equal(entry.outcome, "min-load-fails-goal");
    assert.equal(entry.relevantLowerBoundPps, null);
    assert.equal(entry.relevantUpperBoundPps, 9001);
    assert.equal(entry.conditionalThroughputPps, null);
  }
});

test("max load already lossless: no upper bound, the lower bound is the max load", async () => {
  const result = await runMlrSearch(new SimulatedDevice(steady(2e7), 1), base);
  for (const entry of result.goals) {
    assert.equal(entry.outcome, "max-load-meets-goal");
    assert.equal(entry.relevantLowerBoundPps, MAX_LOAD);
    assert.equal(entry.relevantUpperBoundPps, null);
  }
  assert.equal(result.trialSecondsUsed, 11);
});

test("time limit hit: the result says so and keeps the bounds it had", async () => {
  const result = await runMlrSearch(new SimulatedDevice(steady(6e6), 1), { ...base, timeLimitS: 20 });
  assert.equal(result.stopReason, "time-limit");
  assert.ok(result.trialSecondsUsed <= 20);
  const ndr = goal(result, "NDR");
  assert.equal(ndr.outcome, "time-limit");
  // The final phase has not confirmed both bounds yet, but the search was steering by coarser ones.
  assert.ok(ndr.relevantLowerBoundPps === null || ndr.relevantUpperBoundPps === null);
  assert.ok(ndr.workingLowerBoundPps !== null && ndr.workingUpperBoundPps !== null);
  assert.ok(ndr.workingLowerBoundPps <= 6e6 && 6e6 < ndr.workingUpperBoundPps);
});

test("generator below the intended load: the search stops and reports the shortfall", async () => {
  const model = steady(6e6, { generatorCeilingPps: 400_000 });
  const result = await runMlrSearch(new SimulatedDevice(model, 1), base);
  assert.equal(result.stopReason, "generator-shortfall");
  assert.equal(result.trialCount, 1);
  assert.deepEqual(result.shortfalls, [
    {
      intendedLoadPps: MAX_LOAD,
      achievedLoadPps: 400_000,
      durationS: 1,
      intendedCount: MAX_LOAD * 2,
      offeredCount: 800_000,
    },
  ]);
  assert.ok(result.goals.every((entry) => entry.outcome === "generator-shortfall"));
});

test("with count-as-loss, loads the generator cannot reach never pass", async () => {
  const model = steady(6e6, { generatorCeilingPps: 400_000 });
  const result = await runMlrSearch(new SimulatedDevice(model, 1), {
    ...base,
    onGeneratorShortfall: "count-as-loss",
  });
  assert.equal(result.stopReason, "goals-reached");
  assert.ok(result.shortfalls.length > 0);
  for (const entry of result.goals) {
    assert.equal(entry.outcome, "found");
    assert.ok((entry.relevantLowerBoundPps as number) <= 400_000 / (1 - entry.goal.lossRatio) + 1);
  }
});

test("the generator may take real time; an injected clock is honoured", async () => {
  let now = 1000;
  const inner = new SimulatedDevice(steady(1e6), 1);
  const slow: TrafficGenerator = {
    directions: 2,
    runTrial: async (request) => {
      await new Promise((resolve) => setImmediate(resolve));
      now += request.durationS + 4; // 4 s of setup per trial
      return inner.runTrial(request);
    },
  };
  const seen: number[] = [];
  const result = await runMlrSearch(
    slow,
    { ...base, maxLoadPps: 2e6, timeLimitS: 60 },
    { clock: () => now, onTrial: (entry) => seen.push(entry.index) },
  );
  assert.equal(result.stopReason, "time-limit");
  assert.ok(result.elapsedS <= 60);
  assert.equal(result.trialCount, 12);
  assert.deepEqual(
    seen,
    Array.from({ length: 12 }, (_, index) => index),
  );
});

test("a bad configuration lists all its problems", () => {
  assert.throws(
    () =>
      makeSearchConfig({
        ...base,
        minLoadPps: -1,
        timeLimitS: 0,
        goals: [
          { ...NDR_GOAL, exceedRatio: 1 },
          { ...PDR_GOAL, name: "NDR" },
        ],
      }),
    (error: unknown) =>
      error instanceof SearchConfigError &&
      error.problems.length === 4 &&
      /exceedRatio/.test(error.message) &&
      /unique/.test(error.message),
  );
});
