import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parsePlan, type BenchPlan } from "./plan";
import type { RemoteExec } from "./remote";
import { AbortedError, runBench } from "./runner";
import { FakeLab } from "./testSupport";

function makePlan(over: Record<string, unknown> = {}): BenchPlan {
  return parsePlan({
    name: "fake",
    stack: "fake",
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
  it("calibrates the TG again before the first cell of each other frame size (issue 14)", async () => {
    const lab = makeLab();
    lab.mtu = 9000;
    const lines: string[] = [];
    const plan = makePlan({
      cells: [
        { frame: 64, vringSize: 1024, policy: "cfs", tests: ["mrr"] },
        { frame: 9000, vringSize: 1024, policy: "cfs", tests: ["mrr"] },
        { frame: 64, vringSize: 1024, policy: "cfsrr1", tests: ["mrr"] },
      ],
    });
    const report = await runBench(plan, { hosts: hosts(lab), log: (l) => lines.push(l) });
    assert.equal(report.ok, true, JSON.stringify(report, null, 1));
    assert.equal(report.calibration?.frame, "64B");
    assert.deepEqual(
      report.calibrations?.map((c) => c.frame),
      ["64B", "9000B"],
    );
    assert.equal(lines.filter((l) => l.includes("TG calibration")).length, 2, lines.join("\n"));
    // 2 calibrations + per cell a probe and 3 MRR trials
    assert.equal(lab.trials, 2 + 3 * 4);
  });

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
    assert.equal(lab.record, null, "the record is removed after a clean revert");
    const applyAt = lab.events.indexOf("record written");
    assert.ok(applyAt >= 0 && applyAt < lab.events.findIndex((e) => e.startsWith("rr ")), "record first");
    assert.equal(
      lab.stopTrials,
      2,
      "trafgen leftovers cleared at the start, trafgen stopped and its files removed at the end",
    );
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
    // trial 1 = the TG calibration, 2 = probe of cell 1, 3-5 = MRR of cell 1, 6 = probe of cell 2,
    // 7 = first MRR trial of cell 2
    lab.failTrial = 7;
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

  it("stops on abort, reverting first", async () => {
    const lab = makeLab();
    const abort = new AbortController();
    let n = 0;
    lab.lossAt = () => {
      if (++n === 8) abort.abort(new AbortedError("SIGINT")); // during cell 2 (cfsrr1), MRR trial 2 (1 = calibration)
      return 0;
    };
    const report = await runBench(makePlan(), {
      hosts: hosts(lab),
      log: () => undefined,
      signal: abort.signal,
    });
    assert.match(report.fatal ?? "", /interrupted \(SIGINT\)/);
    assert.equal(report.ok, false);
    assert.equal(report.cells.length, 2);
    assert.equal(report.cells[1]?.error, "interrupted (SIGINT)");
    assert.deepEqual(lab.rtThreads(), []);
    assert.equal(lab.rtRuntimeUs, 950000);
    assert.equal(lab.record, null);
  });

  it("an interrupt during a trial restores at once, without waiting for the trial to end", async () => {
    // trial 1 = the TG calibration, 2 = probe of cell 1 (cfsrr1), 3 = its first MRR trial, which
    // never ends by itself
    const lab = makeLab();
    lab.hangTrial = 3;
    const abort = new AbortController();
    const plan = makePlan({ cells: [{ frame: 64, policy: "cfsrr1", tests: ["mrr"] }] });
    const run = runBench(plan, { hosts: hosts(lab), log: () => undefined, signal: abort.signal });
    await lab.trialHanging;
    assert.equal(lab.rtThreads().length, 3, "the cell runs with its RR threads");
    assert.equal(lab.rtRuntimeUs, 500000);
    const t = Date.now();
    const before = lab.exec.calls.length;
    abort.abort(new AbortedError("SIGTERM"));
    const report = await run;
    assert.ok(Date.now() - t < 1000, `returned ${Date.now() - t} ms after the interrupt`);
    assert.match(report.fatal ?? "", /interrupted \(SIGTERM\)/);
    assert.deepEqual(lab.rtThreads(), [], "no RT thread left");
    assert.equal(lab.rtRuntimeUs, 950000, "RT runtime restored");
    assert.equal(lab.record, null, "record removed");
    assert.ok(lab.stopTrials >= 2, "the running trial was stopped (after the start-of-run cleanup)");
    assert.deepEqual(
      lab.exec.calls
        .slice(before)
        .map((c) => (c.stdin.includes("__VPL_SCHED_RESTORE_EOF__") ? "restore+sweep" : c.command))
        .sort(),
      ["env LAB_RUN_DIR=/run/vhost-perf-lab/fake bash -s -- stop-trial", "restore+sweep"],
      "one round trip each, started together (an SSH command may cost seconds; the grace is 3 s)",
    );
    assert.equal(lab.trials, 3, "no trial after the interrupt");
  });

  it("an interrupt while cfsrr1 is being planned never applies it afterwards", async () => {
    const lab = makeLab();
    const abort = new AbortController();
    // abort inside the cfsrr1 cell's scheduler snapshot, i.e. after apply() began and before it
    // makes the change
    const exec = lab.exec;
    let snapshots = 0;
    const slow = {
      name: "fake",
      run: async (command: string, options?: { stdin?: string; timeoutMs?: number }) => {
        if (options?.stdin?.includes("printf 'O\\t") && ++snapshots === 1) {
          abort.abort(new AbortedError("SIGINT"));
          await new Promise((r) => setTimeout(r, 50));
        }
        return exec.run(command, options);
      },
      close: async () => undefined,
    };
    const plan = makePlan({ cells: [{ frame: 64, policy: "cfsrr1", tests: ["mrr"] }] });
    const report = await runBench(plan, {
      hosts: { get: async () => slow, closeAll: async () => undefined },
      log: () => undefined,
      signal: abort.signal,
      probe: null,
    });
    await new Promise((r) => setTimeout(r, 200)); // let the abandoned apply finish, if it would
    assert.match(report.fatal ?? "", /interrupted/);
    assert.deepEqual(lab.rtThreads(), []);
    assert.equal(lab.rtRuntimeUs, 950000);
    assert.equal(snapshots, 1, "apply's own verification never ran");
    assert.ok(!lab.events.includes("record written"), "nothing was applied");
  });

  it("restores a record left by a killed run before the first cell", async () => {
    const lab = makeLab();
    lab.rtRuntimeUs = 500000;
    (lab.threads[0] as { policy: string; priority: number }).policy = "SCHED_RR";
    (lab.threads[0] as { policy: string; priority: number }).priority = 1;
    lab.record = { runtime: 950000, threads: [{ pid: 100, tid: 105, policy: "SCHED_OTHER", priority: 0 }] };
    const report = await runBench(makePlan({ cells: [{ frame: 64, policy: "cfs", tests: ["mrr"] }] }), {
      hosts: hosts(lab),
      log: () => undefined,
    });
    assert.equal(report.ok, true, JSON.stringify(report.notes));
    assert.ok(
      report.notes.some((n) => /a previous run left scheduling changes/.test(n)),
      report.notes.join("\n"),
    );
    assert.equal(lab.events[0], "other 105", "restored before anything else");
    assert.equal(lab.rtRuntimeUs, 950000);
    assert.equal(lab.record, null);
  });

  it("refuses to run without sched-restore.sh (nothing could be undone)", async () => {
    const lab = makeLab();
    const report = await runBench(makePlan(), {
      hosts: hosts(lab),
      log: () => undefined,
      restoreScript: null,
    });
    assert.match(report.fatal ?? "", /sched-restore.sh not found/);
    assert.equal(lab.exec.calls.length, 0);
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
});
