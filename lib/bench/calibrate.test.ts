import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { TrafficGenerator, TrialRequest } from "../measure/trafficGenerator";
import { calibrateTg, capFrom, CALIBRATION_MARGIN, smallestFrame } from "./calibrate";
import { testPlan } from "../results/testSupport";

/** A TG that can send at most `ceiling` pps per direction. */
function tg(ceiling: number, directions = 2): TrafficGenerator & { asked: TrialRequest[] } {
  const asked: TrialRequest[] = [];
  return {
    directions,
    asked,
    async runTrial(r) {
      asked.push(r);
      const sent = Math.round(Math.min(r.loadPps, ceiling) * r.durationS * directions);
      return { offeredCount: sent, receivedCount: sent };
    },
  };
}

describe("TG calibration", () => {
  it("caps every max load to what the TG achieved, less the margin, and says so", async () => {
    const plan = testPlan({ mrr: { trials: 3, trialDurationS: 1, maxLoadPps: 20000 } });
    const gen = tg(14000);
    const { plan: capped, report } = await calibrateTg(gen, plan);
    assert.equal(gen.asked.length, 1);
    assert.deepEqual(gen.asked[0], { loadPps: 20000, durationS: 2, frame: 64 });
    assert.equal(report.achievedPps, 14000);
    assert.equal(report.capPps, Math.floor(14000 * (1 - CALIBRATION_MARGIN)));
    assert.equal(report.capped, true);
    assert.equal(capped.mrr.maxLoadPps, report.capPps);
    assert.equal(capped.ndrpdr.maxLoadPps, report.capPps);
    assert.equal(plan.mrr.maxLoadPps, 20000, "the input plan is not changed");
    assert.match(report.rule, /achieved rate/);
  });

  it("leaves the plan alone when the TG reached the load", async () => {
    const plan = testPlan();
    const { plan: same, report } = await calibrateTg(tg(1e9), plan);
    assert.equal(report.capped, false);
    assert.equal(same, plan);
  });

  it("keeps the search's min load at or below the cap", async () => {
    const plan = testPlan({ ndrpdr: { minLoadPps: 9001, durationSumS: 3 } });
    const { plan: capped } = await calibrateTg(tg(5000), plan);
    assert.ok(capped.ndrpdr.minLoadPps <= capped.ndrpdr.maxLoadPps);
  });

  it("calibrates with the smallest frame of the matrix", () => {
    const plan = testPlan({
      matrix: { frames: [1518, "IMIX_v4_1", 64], vringSizes: [1024], policies: ["cfs"], tests: ["mrr"] },
    });
    assert.equal(smallestFrame(plan), 64);
  });

  it("property: the cap never exceeds the asked load nor the achieved rate", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1e7 }),
        fc.integer({ min: 0, max: 1e8 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 2 }),
        (asked, sent, d, dirs) => {
          const cap = capFrom(asked, sent, d, dirs);
          const achieved = sent / d / dirs;
          return cap <= asked && cap >= 1 && (cap === asked || cap <= Math.max(1, achieved));
        },
      ),
    );
  });
});
