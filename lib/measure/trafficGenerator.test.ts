import { test } from "node:test";
import assert from "node:assert/strict";
import {
  InvalidTrialCountsError,
  recordTrial,
  runTrial,
  shortfallOf,
  type TrafficGenerator,
} from "./trafficGenerator";

const request = { loadPps: 1000, durationS: 2, frame: 64 } as const;

test("loss ratio and rates come from the counts, per direction", () => {
  const trial = recordTrial(request, { offeredCount: 4000, receivedCount: 3000 }, 2);
  assert.equal(trial.intendedCount, 4000);
  assert.equal(trial.lossRatio, 0.25);
  assert.equal(trial.forwardingRatePps, 750);
  assert.equal(trial.offeredRatePps, 1000);
  assert.equal(trial.generatorShortfall, false);
});

test("a generator that sends less than intended is flagged, and loss is also given against the intent", () => {
  const trial = recordTrial(request, { offeredCount: 3000, receivedCount: 3000 }, 2);
  assert.equal(trial.generatorShortfall, true);
  assert.equal(trial.lossRatio, 0);
  assert.equal(trial.lossRatioOfIntended, 0.25);
  assert.deepEqual(shortfallOf(trial), {
    intendedLoadPps: 1000,
    achievedLoadPps: 750,
    durationS: 2,
    intendedCount: 4000,
    offeredCount: 3000,
  });
});

test("small deviations within the tolerance are not a shortfall", () => {
  assert.equal(
    recordTrial(request, { offeredCount: 3985, receivedCount: 3985 }, 2).generatorShortfall,
    false,
  );
  assert.equal(recordTrial(request, { offeredCount: 3975, receivedCount: 3975 }, 2).generatorShortfall, true);
  assert.equal(
    recordTrial(request, { offeredCount: 3975, receivedCount: 3975 }, 2, 0.01).generatorShortfall,
    false,
  );
});

test("nothing offered counts as total loss; more received than offered as none", () => {
  assert.equal(recordTrial(request, { offeredCount: 0, receivedCount: 0 }, 2).lossRatio, 1);
  assert.equal(recordTrial(request, { offeredCount: 4000, receivedCount: 4100 }, 2).lossRatio, 0);
});

test("impossible counts are an error, not a number", () => {
  assert.throws(
    () => recordTrial(request, { offeredCount: -1, receivedCount: 0 }, 2),
    InvalidTrialCountsError,
  );
  assert.throws(
    () => recordTrial(request, { offeredCount: 10.5, receivedCount: 0 }, 2),
    InvalidTrialCountsError,
  );
  assert.throws(
    () => recordTrial(request, { offeredCount: 10, receivedCount: NaN }, 2),
    InvalidTrialCountsError,
  );
});

test("per-direction counts must add up to the totals, one entry per direction", () => {
  const d0 = { txPort: 0, rxPort: 1, offeredCount: 2000, receivedCount: 1990 };
  const d1 = { txPort: 1, rxPort: 0, offeredCount: 2000, receivedCount: 2000 };
  const ok = recordTrial(request, { offeredCount: 4000, receivedCount: 3990, perDirection: [d0, d1] }, 2);
  assert.deepEqual(ok.perDirection, [d0, d1]);
  assert.throws(
    () => recordTrial(request, { offeredCount: 4000, receivedCount: 3991, perDirection: [d0, d1] }, 2),
    InvalidTrialCountsError,
  );
  assert.throws(
    () => recordTrial(request, { offeredCount: 2000, receivedCount: 1990, perDirection: [d0] }, 2),
    InvalidTrialCountsError,
  );
});

test("runTrial awaits the generator and refuses nonsense requests", async () => {
  const seen: number[] = [];
  const generator: TrafficGenerator = {
    directions: 1,
    runTrial: async ({ loadPps, durationS }) => {
      await new Promise((resolve) => setImmediate(resolve));
      seen.push(loadPps);
      return { offeredCount: loadPps * durationS, receivedCount: loadPps * durationS };
    },
  };
  const trial = await runTrial(generator, { loadPps: 10, durationS: 1, frame: 64 });
  assert.equal(trial.lossRatio, 0);
  assert.deepEqual(seen, [10]);
  await assert.rejects(runTrial(generator, { loadPps: 0, durationS: 1, frame: 64 }), RangeError);
  await assert.rejects(runTrial(generator, { loadPps: 10, durationS: -1, frame: 64 }), RangeError);
});
