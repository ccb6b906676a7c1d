import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { CellReport } from "../bench/report";
import type { RemoteExec } from "../bench/remote";
import { FakeLab } from "../bench/testSupport";
import { isGoodResult, loadRuns } from "./store";
import { runWithStore } from "./session";
import { SETUP, testPlan } from "./testSupport";
import type { CsitRecord } from "./types";

function makeLab(): FakeLab {
  const l = new FakeLab();
  l.pidFiles.set("/run/vs.pid", 100);
  l.pidFiles.set("/run/vm1.pid", 200);
  l.threads = [
    { pid: 100, tid: 105, comm: "rte-worker-1", cpus: "1", policy: "SCHED_OTHER", priority: 0 },
    { pid: 200, tid: 203, comm: "CPU 0/TCG", cpus: "1", policy: "SCHED_OTHER", priority: 0 },
  ];
  l.lossAt = (pps) => (pps > 15000 ? 0.2 : 0);
  return l;
}

const deps = (lab: FakeLab, log: string[] = []) => ({
  hosts: { get: async (): Promise<RemoteExec> => lab.exec, closeAll: async () => undefined },
  log: (l: string) => void log.push(l),
  telemetryClient: null,
});

const setupFacts = { setup: { ...SETUP, kernel: undefined, cmdline: undefined } };

describe("runWithStore", () => {
  it("stores every run, and a changed matrix measures only the cells whose key changed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vpl-results-"));
    try {
      const plan = testPlan({ facts: setupFacts });
      const lab = makeLab();
      const first = await runWithStore(plan, deps(lab), { stack: "fake", dir });
      assert.equal(first.cells.length, 2);
      assert.ok(
        first.cells.every((c) => c.error === undefined),
        JSON.stringify(first.cells.map((c) => c.error)),
      );
      assert.deepEqual(
        Object.values(first.results!.origins).map((o) => o.reused),
        [false, false],
      );
      const trialsAfterFirst = lab.trials;
      assert.ok(trialsAfterFirst > 4, `trials ${trialsAfterFirst}`);
      assert.ok(first.calibration, "the TG was calibrated before the matrix");

      // the run's files: full document, setup facts, CSIT records, the report
      const runDir = join(dir, "runs", first.results!.runId);
      for (const f of ["run.json", "setup.json", "records.json", "report.html"])
        assert.ok(existsSync(join(runDir, f)), f);
      assert.equal(first.results!.reportPath, join(runDir, "report.html"));
      const records = JSON.parse(readFileSync(join(runDir, "records.json"), "utf8")) as CsitRecord[];
      assert.deepEqual(
        records.map((r) => r.test_id),
        [
          "64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-mrr",
          "64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-ndrpdr",
          "64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-cfsrr1-mrr",
          "64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-cfsrr1-ndrpdr",
        ],
      );

      // the same matrix plus a frame size: only the two new cells are measured
      const wider = testPlan({
        facts: setupFacts,
        matrix: {
          frames: [64, 1518],
          vringSizes: [1024],
          policies: ["cfs", "cfsrr1"],
          tests: ["mrr", "ndrpdr"],
        },
      });
      const log: string[] = [];
      const second = await runWithStore(wider, deps(lab, log), { stack: "fake", dir });
      assert.deepEqual(
        second.cells.map((c) => [c.name, second.results!.origins[c.name]!.reused]),
        [
          ["64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm", true],
          ["64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-cfsrr1", true],
          ["1518b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm", false],
          ["1518b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-cfsrr1", false],
        ],
      );
      assert.equal(second.results!.origins[second.cells[0]!.name]!.runId, first.results!.runId);
      assert.deepEqual(second.cells[0]!.mrr, first.cells[0]!.mrr, "the reused result is the stored one");
      assert.ok(
        log.some((l) => /unchanged .* reusing the result of run/.test(l)),
        log.join("\n"),
      );
      const html = readFileSync(second.results!.reportPath, "utf8");
      assert.match(html, /<span id="reused-count">2<\/span> reused/);

      // nothing changed at all: nothing measured, everything reused
      const trials = lab.trials;
      const third = await runWithStore(wider, deps(lab), { stack: "fake", dir });
      assert.equal(lab.trials, trials, "no trial at all");
      assert.ok(Object.values(third.results!.origins).every((o) => o.reused));
      // --fresh measures again
      await runWithStore(plan, deps(lab), { stack: "fake", dir, fresh: true });
      assert.ok(lab.trials > trials);
      assert.equal(loadRuns(dir).length, 4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("does not reuse a cell that failed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vpl-results-"));
    try {
      const plan = testPlan({ facts: setupFacts });
      const lab = makeLab();
      lab.failTrial = 3; // 1 = calibration, 2 = probe of cell 1, 3 = its first MRR trial
      const first = await runWithStore(plan, deps(lab), { stack: "fake", dir });
      assert.ok(first.cells[0]!.error);
      lab.failTrial = null;
      const second = await runWithStore(plan, deps(lab), { stack: "fake", dir });
      assert.equal(
        second.results!.origins[first.cells[0]!.name]!.reused,
        false,
        "the failed cell is measured again",
      );
      assert.equal(second.results!.origins[first.cells[1]!.name]!.reused, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("reuses only on the same running datapath: a redeployed VM (new pid) measures every cell again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vpl-results-"));
    try {
      const plan = testPlan({ facts: setupFacts });
      const lab = makeLab();
      const first = await runWithStore(plan, deps(lab), { stack: "fake", dir });
      const same = await runWithStore(plan, deps(lab), { stack: "fake", dir });
      assert.deepEqual(
        Object.values(same.results!.origins).map((o) => o.reused),
        [true, true],
        "same vswitch, same VM, same boot: kept",
      );
      const vm = { ...plan.dut.vms[0]!, pid: 4242 };
      delete vm.pidFile;
      const redeployed = { ...plan, dut: { ...plan.dut, vms: [vm] } };
      lab.threads = lab.threads.map((t) => (t.pid === 200 ? { ...t, pid: 4242 } : t));
      const again = await runWithStore(redeployed, deps(lab), { stack: "fake", dir });
      assert.deepEqual(
        Object.values(again.results!.origins).map((o) => o.reused),
        [false, false],
        "a new VM process: measured again",
      );
      assert.notEqual(again.results!.datapath, first.results!.datapath);
      // the cells keep their key: runs stay comparable across deployments
      assert.deepEqual(
        Object.values(again.results!.origins).map((o) => o.key),
        Object.values(first.results!.origins).map((o) => o.key),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("does not keep a result whose search stopped on a generator shortfall or whose MRR fell short", () => {
    const cell = (over: Partial<CellReport>): CellReport =>
      ({ name: "c", warnings: [], ...over }) as unknown as CellReport;
    const ndrpdr = (stopReason: string) => ({ stopReason }) as unknown as CellReport["ndrpdr"];
    const mrr = (shortfallTrials: number) => ({ shortfallTrials }) as unknown as CellReport["mrr"];
    assert.equal(isGoodResult(cell({ ndrpdr: ndrpdr("goals-reached"), mrr: mrr(0) })), true);
    assert.equal(isGoodResult(cell({ ndrpdr: ndrpdr("generator-shortfall") })), false);
    assert.equal(isGoodResult(cell({ ndrpdr: ndrpdr("time-limit") })), false);
    assert.equal(isGoodResult(cell({ mrr: mrr(1) })), false);
    assert.equal(isGoodResult(cell({ error: "probe failed" })), false);
    assert.equal(isGoodResult(cell({ skipped: true, error: "jumbo" })), false);
  });
});
