import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { BenchPlan } from "../bench/plan";
import { canonicalJson, cellKey } from "./cellKey";
import { SETUP, testPlan } from "./testSupport";
import type { SetupFacts } from "./types";

describe("canonicalJson", () => {
  it("property: key order does not matter, values do", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse());
        return canonicalJson(obj) === canonicalJson(reversed);
      }),
    );
    assert.notEqual(canonicalJson({ a: 1 }), canonicalJson({ a: 2 }));
  });
});

describe("cellKey", () => {
  const plan = testPlan();
  const [cfs, rr] = plan.cells as [BenchPlan["cells"][0], BenchPlan["cells"][0]];

  it("is the same for the same cell, setup and parameters, whatever the hosts and pids", () => {
    const other = testPlan({
      dut: { host: "lab", vswitch: { pid: 4242 }, vms: [{ pid: 4343 }], housekeepingCpus: [0] },
    });
    assert.equal(cellKey(cfs, plan, SETUP), cellKey(other.cells[0]!, other, { ...SETUP }));
  });

  it("changes with the cell's own parameters", () => {
    assert.notEqual(cellKey(cfs, plan, SETUP), cellKey(rr, plan, SETUP));
    assert.notEqual(cellKey(cfs, plan, SETUP), cellKey({ ...cfs, frame: 1518 }, plan, SETUP));
    assert.notEqual(cellKey(cfs, plan, SETUP), cellKey({ ...cfs, tests: ["mrr"] }, plan, SETUP));
  });

  it("changes with the measurement parameters and with every setup fact", () => {
    const k = cellKey(cfs, plan, SETUP);
    assert.notEqual(k, cellKey(cfs, { ...plan, mrr: { ...plan.mrr, trials: 4 } }, SETUP));
    const changed: Partial<SetupFacts>[] = [
      { kernel: "6.12.0" },
      { cmdline: "isolcpus=1" },
      { qemu: { version: "10.0.13", patches: [] } },
      { vringSizes: [{ rx: 256, tx: 256 }] },
      { cpus: { housekeeping: [0], vswitch: [0] } },
      { tg: { kind: "trex", directions: 2, maxLoadPps: 20000 } },
      { vswitch: { kind: "vpp", options: {} } },
      { accel: "kvm" },
    ];
    for (const c of changed) assert.notEqual(k, cellKey(cfs, plan, { ...SETUP, ...c }), JSON.stringify(c));
  });

  it("does not depend on the other cells of the matrix (adding a frame keeps the old keys)", () => {
    const wider = testPlan({
      matrix: {
        frames: [64, 1518],
        vringSizes: [1024],
        policies: ["cfs", "cfsrr1"],
        tests: ["mrr", "ndrpdr"],
      },
    });
    assert.equal(cellKey(wider.cells[0]!, wider, SETUP), cellKey(cfs, plan, SETUP));
    assert.equal(cellKey(wider.cells[1]!, wider, SETUP), cellKey(rr, plan, SETUP));
  });
});
