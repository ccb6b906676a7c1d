import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parsePlan, type BenchPlan } from "./plan";
import type { RemoteExec } from "./remote";
import { runBench } from "./runner";
import { FakeLab } from "./testSupport";

function makePlan(over: Record<string, unknown> = {}): BenchPlan {
  return parsePlan({
    name: "fake",
    hosts: { lab: { transport: "local" } },
    dut: {
      host: "lab",
      vswitch: { pidFile: "/run/vs.pid" },
      vms: [{ pidFile: "/run/vm1.pid" }],
      housekeepingCpus: [0],
    },
    tg: { kind: "trafgen", host: "lab" },
    cells: [
      { frame: 64, vringSize: 1024, policy: "cfs", tests: ["mrr"] },
      { frame: 64, vringSize: 1024, policy: "cfsrr1", tests: ["mrr"] },
    ],
    mrr: { trials: 3, trialDurationS: 1, maxLoadPps: 200000 },
    ...over,
  });
}

function makeLab(vcpuCpus = "0-1"): FakeLab {
  const l = new FakeLab();
  l.pidFiles.set("/run/vs.pid", 100);
  l.pidFiles.set("/run/vm1.pid", 200);
  l.threads = [
    { pid: 100, tid: 105, comm: "rte-worker-1", cpus: "1", policy: "SCHED_OTHER", priority: 0 },
    { pid: 200, tid: 203, comm: "CPU 0/TCG", cpus: vcpuCpus, policy: "SCHED_OTHER", priority: 0 },
    { pid: 200, tid: 204, comm: "CPU 1/TCG", cpus: vcpuCpus, policy: "SCHED_OTHER", priority: 0 },
  ];
  l.lossAt = (pps) => (pps > 100000 ? 0.4 : 0);
  return l;
}

function hosts(lab: FakeLab): { get: (n: string) => Promise<RemoteExec>; closeAll: () => Promise<void> } {
  return { get: async () => lab.exec, closeAll: async () => undefined };
}

describe("runBench", () => {
  it("runs cfs and cfsrr1 MRR cells and leaves the scheduler as it found it", async () => {
    const lab = makeLab();
    const lines: string[] = [];
    const report = await runBench(makePlan(), { hosts: hosts(lab), log: (l) => lines.push(l) });
    assert.equal(report.ok, true, JSON.stringify(report, null, 1));
    assert.equal(report.cells.length, 2);
    const [cfs, rr] = report.cells;
    assert.equal(cfs?.name, "64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm");
    assert.equal(rr?.testNames.mrr, "64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-cfsrr1-mrr");
    assert.equal(cfs?.mrr?.trials.length, 3);
    assert.deepEqual(cfs?.mrr?.trials[0], { offered: 200000, received: 120000, loss: 0.4, pps: 120000 });
    assert.equal(cfs?.mrr?.avgPps, 120000);
    assert.equal(cfs?.mrr?.l1Bps, 120000 * 84 * 8);
    assert.equal(cfs?.sched, undefined);
    assert.deepEqual(
      rr?.sched?.rtThreads.map((t) => t.tid),
      [105, 203, 204],
    );
    assert.equal(rr?.sched?.rtRuntimeUs.during, 500000, "vCPUs may run on CPU 0 too: runtime bounded");
    assert.equal(report.tg.directions, 1);
    assert.match(report.tg.note, /one direction only/);
    // the scheduler is back where it was
    assert.deepEqual(lab.rtThreads(), []);
    assert.equal(lab.rtRuntimeUs, 950000);
    assert.equal(lab.stateFile, null);
    // progress lines
    assert.ok(
      lines.some((l) =>
        /^\[bench \d+s\] 64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-cfsrr1-mrr trial 3\/3: 120000 pps/.test(l),
      ),
      lines.join("\n"),
    );
    // the JSON document has no NaN and no secrets
    assert.doesNotThrow(() => JSON.parse(JSON.stringify(report)));
  });

  it("reverts cfsrr1 when a trial fails, and carries on with the next cell", async () => {
    const lab = makeLab();
    // trial 1 = probe of cell 1, 2-4 = MRR of cell 1, 5 = probe of cell 2, 6 = first MRR trial of cell 2
    lab.failTrial = 6;
    const plan = makePlan({
      cells: [
        { frame: 64, policy: "cfs", tests: ["mrr"] },
        { frame: 64, policy: "cfsrr1", tests: ["mrr"] },
        { frame: 1518, policy: "cfs", tests: ["mrr"] },
      ],
    });
    const report = await runBench(plan, { hosts: hosts(lab), log: () => undefined });
    assert.equal(report.ok, false);
    assert.equal(report.fatal, undefined);
    assert.match(report.cells[1]?.error ?? "", /trafgen trial failed.*connection lost/s);
    assert.ok(report.cells[1]?.sched, "the cell still says what it had changed");
    assert.deepEqual(lab.rtThreads(), [], "no RT thread left behind");
    assert.equal(lab.rtRuntimeUs, 950000);
    assert.equal(report.cells[2]?.mrr?.trials.length, 3, "the next cell ran");
  });

  it("stops after the current trial on abort, reverting first", async () => {
    const lab = makeLab();
    const abort = new AbortController();
    let n = 0;
    lab.lossAt = () => {
      if (++n === 7) abort.abort(); // during cell 2 (cfsrr1), MRR trial 2
      return 0;
    };
    const report = await runBench(makePlan(), {
      hosts: hosts(lab),
      log: () => undefined,
      signal: abort.signal,
    });
    assert.match(report.fatal ?? "", /interrupted/);
    assert.equal(report.ok, false);
    assert.equal(report.cells.length, 2);
    assert.equal(report.cells[1]?.error, "interrupted");
    assert.deepEqual(lab.rtThreads(), []);
    assert.equal(lab.rtRuntimeUs, 950000);
  });

  it("runs NDR/PDR and checks NDR <= PDR <= MRR", async () => {
    const lab = makeLab("1");
    // overload collapse: at the MRR load (200 kpps) only 100 kpps come through
    lab.lossAt = (pps) => (pps <= 100000 ? 0 : pps <= 120000 ? 0.003 : pps < 200000 ? 0.2 : 0.5);
    const plan = makePlan({
      cells: [{ frame: 64, policy: "cfs", tests: ["mrr", "ndrpdr"] }],
      mrr: { trials: 2, maxLoadPps: 200000 },
      ndrpdr: { durationSumS: 2, relativeWidth: 0.01, timeLimitS: 600 },
    });
    const report = await runBench(plan, { hosts: hosts(lab), log: () => undefined });
    const cell = report.cells[0];
    assert.ok(cell?.ndrpdr, JSON.stringify(cell));
    assert.equal(cell.ndrpdr.stopReason, "goals-reached");
    const ndr = cell.ndrpdr.ndr?.lowerBoundPps ?? 0;
    const pdr = cell.ndrpdr.pdr?.lowerBoundPps ?? 0;
    assert.ok(ndr > 98000 && ndr <= 100000, `NDR ${ndr}`);
    assert.ok(pdr > 118000 && pdr <= 120000, `PDR ${pdr}`);
    assert.equal(cell.ndrpdr.testName, "64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-ndrpdr");
    assert.ok(
      cell.warnings.some((w) => /sanity: PDR .* > MRR/.test(w)),
      "MRR at 200 kpps delivers less than the PDR",
    );
  });

  it("skips a cell whose probe gets nothing back, with the reason", async () => {
    const lab = makeLab();
    lab.lossAt = () => 1;
    const report = await runBench(makePlan({ cells: [{ frame: 64, policy: "cfs", tests: ["mrr"] }] }), {
      hosts: hosts(lab),
      log: () => undefined,
    });
    assert.match(report.cells[0]?.error ?? "", /none came back: the datapath is not forwarding/);
    assert.equal(report.cells[0]?.mrr, undefined);
  });

  it("refuses the TRex kind with a clear error", async () => {
    const lab = makeLab();
    const report = await runBench(makePlan({ tg: { kind: "trex", host: "lab" } }), {
      hosts: hosts(lab),
      log: () => undefined,
    });
    assert.match(report.fatal ?? "", /"trex" is declared but not implemented/);
    assert.equal(lab.exec.calls.length, 0);
  });
});
