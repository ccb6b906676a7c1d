import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CellReport } from "../bench/report";
import { loadCheck, orderCheck, policyCheck, ringCheck, ringSizesIn } from "./validity";
import { SETUP } from "./testSupport";

function cell(over: Partial<CellReport> = {}): CellReport {
  return {
    name: "64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm",
    testNames: {},
    vringSize: 1024,
    policy: "cfs",
    frame: "64B",
    frameBytes: 64,
    directions: 2,
    startedAt: "2026-12-04T16:00:00.000Z",
    durationS: 10,
    warnings: [],
    ...over,
  };
}

const goal = (pps: number | null) => ({
  name: "x",
  lossRatio: 0,
  outcome: "found",
  lowerBoundPps: pps,
  lowerBoundL1Bps: null,
  conditionalThroughputPps: null,
  upperBoundPps: null,
  relativeWidth: null,
});
const ndrpdr = (ndr: number | null, pdr: number | null) =>
  ({
    testName: "t",
    stopReason: "goals-reached",
    ndr: goal(ndr),
    pdr: goal(pdr),
    minLoadPps: 1,
    maxLoadPps: 2,
    trialCount: 0,
    trialSecondsUsed: 0,
    elapsedS: 0,
    trials: [],
  }) as NonNullable<CellReport["ndrpdr"]>;
const mrr = (avg: number, shortfallTrials = 0) =>
  ({
    testName: "t",
    loadPps: 1,
    trialDurationS: 1,
    trials: [],
    avgPps: avg,
    stdevPps: 0,
    cov: 0,
    l1Bps: 0,
    shortfallTrials,
  }) as NonNullable<CellReport["mrr"]>;

describe("validity checks", () => {
  it("NDR <= PDR <= MRR, with the tolerance", () => {
    assert.equal(orderCheck(cell({ ndrpdr: ndrpdr(100, 200), mrr: mrr(300) })).verdict, "pass");
    assert.equal(orderCheck(cell({ ndrpdr: ndrpdr(201, 200), mrr: mrr(300) })).verdict, "pass", "within 2 %");
    const bad = orderCheck(cell({ ndrpdr: ndrpdr(300, 200), mrr: mrr(250) }));
    assert.equal(bad.verdict, "fail");
    assert.match(bad.detail, /NDR > PDR/);
    assert.equal(orderCheck(cell({ ndrpdr: ndrpdr(100, 400), mrr: mrr(300) })).verdict, "fail");
    assert.equal(orderCheck(cell({ mrr: mrr(300) })).verdict, "n/a");
  });

  it("ring size as asked: the trap of a silent 256", () => {
    assert.equal(ringCheck(cell(), SETUP).verdict, "pass");
    assert.equal(ringCheck(cell(), { ...SETUP, vringSizes: [{ rx: "256", tx: 1024 }] }).verdict, "fail");
    assert.equal(ringCheck(cell(), { ...SETUP, vringSizes: [] }).verdict, "n/a");
    // the launcher's report: other numbers (queue pairs, max sizes) are not ring sizes
    const real = [
      {
        nic1: { queuePairs: 1, rx: 1024, rxMax: 1024, tx: 1024, txMax: 1024 },
        nic2: { rx: "512", tx: 1024 },
      },
    ];
    assert.deepEqual(ringSizesIn(real), [1024, 1024, 512, 1024]);
    assert.equal(ringCheck(cell(), { ...SETUP, vringSizes: real }).verdict, "fail");
  });

  it("policy as asked", () => {
    const rr = {
      rtThreads: [
        { label: "vswitch", pid: 1, tid: 2, comm: "rte-worker-1", cpus: [1], before: "SCHED_OTHER/0" },
      ],
      rtRuntimeUs: { before: 950000, during: 950000, periodUs: 1000000, coverage: 1, onlineCpus: 2 },
      reason: "",
    };
    assert.equal(policyCheck(cell({ policy: "cfsrr1", sched: rr })).verdict, "pass");
    assert.equal(policyCheck(cell({ policy: "cfsrr1" })).verdict, "fail");
    assert.equal(policyCheck(cell({ policy: "cfs", sched: rr })).verdict, "fail");
    assert.equal(policyCheck(cell({ policy: "cfs" })).verdict, "pass");
  });

  it("TG reached the load", () => {
    assert.equal(loadCheck(cell({ mrr: mrr(1) })).verdict, "pass");
    assert.equal(loadCheck(cell({ mrr: mrr(1, 2) })).verdict, "fail");
    assert.equal(
      loadCheck(cell({ ndrpdr: { ...ndrpdr(1, 1), stopReason: "generator-shortfall" } })).verdict,
      "fail",
    );
  });
});
