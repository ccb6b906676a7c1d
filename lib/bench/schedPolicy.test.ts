import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parsePlan } from "./plan";
import {
  applyScript,
  chrtRestoreArgs,
  maxSimultaneousCpus,
  parseChrt,
  parseCpuList,
  parseSnapshot,
  planCfsrr1,
  restoreRuntimeScript,
  revertScript,
  SchedController,
  SchedPlanError,
  selectThreads,
  snapshotScript,
  sweepScript,
  type ThreadInfo,
} from "./schedPolicy";
import { LocalExec } from "./remote";
import { FakeLab } from "./testSupport";

const other = { policy: "SCHED_OTHER" as const, priority: 0 };

function thread(tid: number, comm: string, cpus: number[], pid = 100): ThreadInfo {
  return { pid, tid, comm, cpus, sched: other };
}

describe("parsing", () => {
  it("reads CPU lists", () => {
    assert.deepEqual(parseCpuList("0-3,8,10-11\n"), [0, 1, 2, 3, 8, 10, 11]);
    assert.deepEqual(parseCpuList("1"), [1]);
    assert.deepEqual(parseCpuList(""), []);
    assert.throws(() => parseCpuList("3-1"));
    assert.throws(() => parseCpuList("a"));
  });

  it("reads chrt -p, including flags after the policy", () => {
    assert.deepEqual(
      parseChrt("pid 7's current scheduling policy: SCHED_OTHER\npid 7's current scheduling priority: 0\n"),
      other,
    );
    assert.deepEqual(
      parseChrt(
        "pid 7's current scheduling policy: SCHED_RR|SCHED_RESET_ON_FORK|pid 7's current scheduling priority: 1|",
      ),
      { policy: "SCHED_RR", priority: 1 },
    );
    assert.throws(() => parseChrt("chrt: failed to get pid 7's policy: No such process"));
  });

  it("restores each policy with the right chrt flags", () => {
    assert.deepEqual(chrtRestoreArgs(other), ["-o", "-p", "0"]);
    assert.deepEqual(chrtRestoreArgs({ policy: "SCHED_FIFO", priority: 10 }), ["-f", "-p", "10"]);
    assert.deepEqual(chrtRestoreArgs({ policy: "SCHED_RR", priority: 3 }), ["-r", "-p", "3"]);
    assert.deepEqual(chrtRestoreArgs({ policy: "SCHED_BATCH", priority: 0 }), ["-b", "-p", "0"]);
    assert.deepEqual(chrtRestoreArgs({ policy: "SCHED_DEADLINE", priority: 0 }), ["-o", "-p", "0"]);
  });

  it("reads a snapshot with QEMU thread names containing spaces", () => {
    const text = [
      "O\t0-1",
      "R\t950000\t1000000",
      "S\t0\t300",
      "T\t300\t305\t1\tpid 305's current scheduling policy: SCHED_OTHER|pid 305's current scheduling priority: 0|\trte-worker-1",
      "S\t1\t-",
      "S\t2\t400",
      "T\t400\t402\t0-1\tpid 402's current scheduling policy: SCHED_RR|pid 402's current scheduling priority: 1|\tCPU 0/TCG",
      "T\t400\t403\t0-1\t\tvanished",
      "",
    ].join("\n");
    const snap = parseSnapshot(text, 3);
    assert.deepEqual(snap.onlineCpus, [0, 1]);
    assert.equal(snap.rtRuntimeUs, 950000);
    assert.deepEqual(snap.pids, [300, null, 400]);
    assert.equal(snap.threads.length, 2, "a thread whose chrt failed is left out");
    assert.deepEqual(snap.threads[1], {
      pid: 400,
      tid: 402,
      cpus: [0, 1],
      comm: "CPU 0/TCG",
      sched: { policy: "SCHED_RR", priority: 1 },
    });
    assert.throws(() => parseSnapshot("S\t0\t1\n", 1), /incomplete/);
  });
});

describe("which threads, how many CPUs", () => {
  it("selects threads by pid and comm pattern", () => {
    const threads = [
      thread(1, "dpdk-testpmd", [0], 1),
      thread(2, "rte-worker-1", [1], 1),
      thread(3, "eal-intr-thread", [0, 1], 1),
      thread(11, "CPU 0/TCG", [1], 10),
      thread(12, "CPU 1/TCG", [1], 10),
      thread(13, "IO mon_iothread", [0, 1], 10),
    ];
    const picked = selectThreads(threads, [
      { label: "vswitch", pid: 1, pattern: /^rte-worker-/ },
      { label: "vm1", pid: 10, pattern: /^CPU \d+\/(KVM|TCG)$/ },
    ]);
    assert.deepEqual(
      picked.map((t) => t.tid),
      [2, 11, 12],
    );
  });

  it("counts CPUs occupiable at once (bipartite matching)", () => {
    assert.equal(maxSimultaneousCpus([[1], [1], [1]], [0, 1]), 1, "local lab: all pollers pinned to CPU 1");
    assert.equal(maxSimultaneousCpus([[1], [0, 1]], [0, 1]), 2, "an unpinned vCPU can take CPU 0");
    assert.equal(maxSimultaneousCpus([[0, 1]], [0, 1]), 1, "one thread, one CPU at a time");
    assert.equal(maxSimultaneousCpus([[0, 1], [0]], [0, 1]), 2, "needs an augmenting path");
    assert.equal(maxSimultaneousCpus([[5]], [0, 1]), 0, "offline CPUs do not count");
  });

  it("matches a brute-force count (property)", () => {
    const affinity = fc.uniqueArray(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(fc.array(affinity, { maxLength: 5 }), (affinities) => {
        const online = [0, 1, 2, 3];
        // brute force: the largest set of CPUs that threads can occupy, via all assignments
        let best = 0;
        const walk = (i: number, used: Set<number>): void => {
          best = Math.max(best, used.size);
          if (i === affinities.length) return;
          walk(i + 1, used);
          for (const cpu of affinities[i] ?? []) {
            if (used.has(cpu)) continue;
            used.add(cpu);
            walk(i + 1, used);
            used.delete(cpu);
          }
        };
        walk(0, new Set());
        assert.equal(maxSimultaneousCpus(affinities, online), best);
      }),
    );
  });
});

describe("planCfsrr1", () => {
  const base = { onlineCpus: [0, 1], rtRuntimeUs: 950000, rtPeriodUs: 1000000, boundUs: 500000 };

  it("local lab (all pollers on CPU 1, CPU 0 housekeeping): no runtime change", () => {
    const plan = planCfsrr1({
      ...base,
      housekeepingCpus: [0],
      selected: [
        { thread: thread(2, "rte-worker-1", [1]), label: "vswitch" },
        { thread: thread(11, "CPU 0/TCG", [1], 10), label: "vm1" },
        { thread: thread(12, "CPU 1/TCG", [1], 10), label: "vm1" },
      ],
    });
    assert.equal(plan.targets.length, 3);
    assert.equal(plan.runtime.setUs, null);
    assert.equal(plan.runtime.coverage, 1);
    assert.equal(plan.warnings.length, 1);
    assert.match(
      plan.warnings[0] ?? "",
      /^cfsrr1: 3 data-plane threads share CPU 1 \(vswitch 2 \(rte-worker-1\), vm1 11/,
    );
  });

  it("no shared-CPU warning when every poller has a CPU of its own (or may move)", () => {
    const plan = planCfsrr1({
      ...base,
      onlineCpus: [0, 1, 2, 3],
      housekeepingCpus: [0],
      selected: [
        { thread: thread(2, "rte-worker-1", [1]), label: "vswitch" },
        { thread: thread(11, "CPU 0/KVM", [2], 10), label: "vm1" },
        { thread: thread(12, "CPU 1/KVM", [2, 3], 10), label: "vm1" },
      ],
    });
    assert.deepEqual(plan.warnings, []);
  });

  it("pollers that could cover every CPU: runtime bounded, housekeeping warning", () => {
    const plan = planCfsrr1({
      ...base,
      housekeepingCpus: [0],
      selected: [
        { thread: thread(2, "rte-worker-1", [1]), label: "vswitch" },
        { thread: thread(11, "CPU 0/TCG", [0, 1], 10), label: "vm1" },
      ],
    });
    assert.equal(plan.runtime.setUs, 500000);
    assert.ok(plan.warnings.some((w) => /housekeeping CPU 0/.test(w)));
  });

  it("unlimited RT runtime (-1) is bounded too; an already tighter one is kept", () => {
    const selected = [
      { thread: thread(2, "a", [0]), label: "x" },
      { thread: thread(3, "b", [1]), label: "x" },
    ];
    assert.equal(planCfsrr1({ ...base, rtRuntimeUs: -1, selected }).runtime.setUs, 500000);
    assert.equal(planCfsrr1({ ...base, rtRuntimeUs: 300000, selected }).runtime.setUs, null);
  });

  it("refuses an empty selection and a bound that is no bound", () => {
    assert.throws(() => planCfsrr1({ ...base, selected: [] }), SchedPlanError);
    assert.throws(
      () =>
        planCfsrr1({ ...base, boundUs: 1000000, selected: [{ thread: thread(2, "a", [0]), label: "x" }] }),
      /must be below sched_rt_period_us/,
    );
  });

  it("never lets RR threads cover every CPU without a runtime bound (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.uniqueArray(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 }), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 1000000 })),
        fc.integer({ min: 0, max: 999999 }),
        (cpuCount, affinities, runtime, bound) => {
          const onlineCpus = Array.from({ length: cpuCount }, (_, i) => i);
          const plan = planCfsrr1({
            onlineCpus,
            rtRuntimeUs: runtime,
            rtPeriodUs: 1000000,
            boundUs: bound,
            selected: affinities.map((cpus, i) => ({ thread: thread(i + 1, `t${i}`, cpus), label: "x" })),
          });
          const during = plan.runtime.setUs ?? runtime;
          const coversAll = maxSimultaneousCpus(affinities, onlineCpus) >= onlineCpus.length;
          if (coversAll) {
            assert.ok(during >= 0 && during < 1000000, `runtime ${during} during the cell`);
            assert.equal(during, runtime < 0 ? bound : Math.min(runtime, bound));
          }
          // and it never raises the runtime
          if (plan.runtime.setUs !== null && runtime >= 0) assert.ok(plan.runtime.setUs <= runtime);
        },
      ),
    );
  });
});

describe("scripts", () => {
  const plan = planCfsrr1({
    onlineCpus: [0, 1],
    rtRuntimeUs: 950000,
    rtPeriodUs: 1000000,
    boundUs: 500000,
    selected: [
      { thread: { ...thread(2, "a", [0]), sched: { policy: "SCHED_FIFO", priority: 5 } }, label: "x" },
      { thread: thread(3, "b", [1]), label: "x" },
    ],
  });

  it("apply parks the originals, lowers the root RT group, then the sysctl, then sets RR 1 on live threads", () => {
    const s = applyScript(plan, "/run/x/rt.orig");
    const lines = s.split("\n");
    const park = lines.findIndex(
      (l) => l.startsWith("if [ ! -e /run/x/rt.orig ]") && l.includes('echo "sysctl'),
    );
    const group = lines.findIndex((l) => l.includes('echo 500000 > "$cg"'));
    const bound = lines.findIndex((l) => l === "echo 500000 > /proc/sys/kernel/sched_rt_runtime_us");
    const rr = lines.findIndex((l) => l.includes("chrt -r -p 1 2"));
    assert.ok(park >= 0 && park < group && group < bound && bound < rr, s);
    assert.ok(lines[rr]?.includes("[ -d /proc/100/task/2 ]"));
    assert.ok(s.includes("chrt -r -p 1 3"));
    assert.ok(
      !applyScript({ ...plan, runtime: { ...plan.runtime, setUs: null } }, "/f").includes(
        "sched_rt_runtime_us",
      ),
    );
  });

  it("restores the global runtime before the root group's, and keeps the state file on failure", async () => {
    const s = restoreRuntimeScript("/run/x/rt.orig");
    assert.ok(s.indexOf("sysctl)") >= 0 && s.includes('[ "$rc" = 0 ] && rm -f /run/x/rt.orig'));
    // run it for real against a scratch copy of the format (no /proc writes: file paths only)
    const dir = mkdtempSync(join(tmpdir(), "rt-"));
    try {
      const state = join(dir, "state");
      const group = join(dir, "group");
      writeFileSync(state, `cgroup ${group} 950000\n`);
      writeFileSync(group, "500000\n");
      const r = await new LocalExec().run("bash -s", { stdin: restoreRuntimeScript(state) });
      assert.equal(r.stdout, "restored cgroup 950000\n");
      assert.equal(readFileSync(group, "utf8"), "950000\n");
      assert.ok(!existsSync(state));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("revert restores each thread's own policy", () => {
    const s = revertScript(plan);
    assert.ok(s.includes("chrt -f -p 5 2"));
    assert.ok(s.includes("chrt -o -p 0 3"));
  });

  it("sweep and snapshot cover the given pids / pidfiles", () => {
    assert.ok(sweepScript([100, 200]).includes("/proc/200/task/*"));
    const snap = snapshotScript([{ pid: 5 }, { pidFile: "/run/a b.pid" }]);
    assert.ok(snap.includes("sel 0 5"));
    assert.ok(snap.includes("'/run/a b.pid'"));
  });
});

describe("SchedController against a fake host", () => {
  const plan = parsePlan({
    hosts: { h: { transport: "local" } },
    dut: {
      host: "h",
      vswitch: { pidFile: "/run/vs.pid" },
      vms: [{ pidFile: "/run/vm1.pid" }],
      housekeepingCpus: [0],
    },
    tg: { kind: "trafgen", host: "h" },
    cells: [{ frame: 64, policy: "cfsrr1", tests: ["mrr"] }],
    mrr: { maxLoadPps: 1000 },
  });

  function lab(vcpuCpus: string): FakeLab {
    const l = new FakeLab();
    l.pidFiles.set("/run/vs.pid", 100);
    l.pidFiles.set("/run/vm1.pid", 200);
    l.threads = [
      { pid: 100, tid: 100, comm: "dpdk-testpmd", cpus: "0", policy: "SCHED_OTHER", priority: 0 },
      { pid: 100, tid: 105, comm: "rte-worker-1", cpus: "1", policy: "SCHED_OTHER", priority: 0 },
      { pid: 200, tid: 201, comm: "qemu-system-x86", cpus: "0-1", policy: "SCHED_OTHER", priority: 0 },
      { pid: 200, tid: 203, comm: "CPU 0/TCG", cpus: vcpuCpus, policy: "SCHED_OTHER", priority: 0 },
      { pid: 200, tid: 204, comm: "CPU 1/TCG", cpus: vcpuCpus, policy: "SCHED_OTHER", priority: 0 },
    ];
    return l;
  }

  it("applies to the data-plane threads only and reverts everything", async () => {
    const l = lab("1");
    const c = new SchedController(l.exec, plan.dut, plan.sched);
    const { applied } = await c.apply(() => undefined);
    assert.deepEqual(
      l.rtThreads().map((t) => t.tid),
      [105, 203, 204],
    );
    assert.equal(l.rtRuntimeUs, 950000, "CPU 0 stays free: no runtime change");
    await c.revert(applied);
    assert.deepEqual(l.rtThreads(), []);
  });

  it("bounds and restores the RT runtime when the vCPUs may run anywhere", async () => {
    const l = lab("0-1");
    const c = new SchedController(l.exec, plan.dut, plan.sched);
    const { applied, warnings } = await c.apply(() => undefined);
    assert.equal(l.rtRuntimeUs, 500000);
    assert.equal(l.stateFile, "950000");
    assert.ok(warnings.some((w) => /bounded to 500000/.test(w)));
    assert.ok(l.events.indexOf("runtime 500000") < l.events.indexOf("rr 105"), "bound before the first RR");
    await c.revert(applied);
    assert.equal(l.rtRuntimeUs, 950000);
    assert.equal(l.stateFile, null);
    assert.deepEqual(l.rtThreads(), []);
    assert.ok(
      l.events.lastIndexOf("runtime 950000") > l.events.lastIndexOf("other 105"),
      "restore after the threads",
    );
  });

  it("recover() restores a runtime parked by a run that died, and sweeps RR leftovers", async () => {
    const l = lab("1");
    l.stateFile = "950000";
    l.rtRuntimeUs = 500000;
    (l.threads[1] as { policy: string }).policy = "SCHED_RR";
    const c = new SchedController(l.exec, plan.dut, plan.sched);
    const notes = await c.recover();
    assert.equal(l.rtRuntimeUs, 950000);
    assert.deepEqual(l.rtThreads(), []);
    assert.ok(notes.some((n) => /restored sysctl 950000/.test(n)));
    assert.ok(notes.some((n) => /thread 105 \(rte-worker-1\)/.test(n)));
  });

  it("fails clearly when no data-plane thread is found", async () => {
    const l = lab("1");
    l.threads = l.threads.filter((t) => t.pid !== 100 && !t.comm.startsWith("CPU"));
    const c = new SchedController(l.exec, plan.dut, plan.sched);
    await assert.rejects(
      c.apply(() => undefined),
      /no data-plane threads found/,
    );
  });
});
