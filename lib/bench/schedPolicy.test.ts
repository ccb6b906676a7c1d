import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parsePlan } from "./plan";
import { AbortedError } from "./abort";
import { findScript } from "./runner";
import {
  applyScript,
  maxSimultaneousCpus,
  parseChrt,
  parseCpuList,
  parseSnapshot,
  planCfsrr1,
  SCHED_RECORD_HEADER,
  SchedController,
  SchedPlanError,
  selectThreads,
  snapshotScript,
  sweepScript,
  type ThreadInfo,
} from "./schedPolicy";
import { FakeLab } from "./testSupport";

const RESTORE = findScript("sched-restore.sh") as string;

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

  it("apply writes the record (tmp + rename) before any change, then the root RT group, the sysctl, RR 1", () => {
    const s = applyScript(plan, "/run/x/sched.record");
    const lines = s.split("\n");
    const at = (p: (l: string) => boolean): number => lines.findIndex(p);
    const refuse = at((l) => l.startsWith('if [ -e "$rec" ]') && l.includes("exit 4"));
    const header = at((l) => l.includes(SCHED_RECORD_HEADER));
    const runtime = at((l) =>
      l.includes('echo "runtime sysctl $(cat /proc/sys/kernel/sched_rt_runtime_us)"'),
    );
    const cg = at((l) => l.includes('echo "runtime cgroup $cg $(cat "$cg")"'));
    const t2 = at((l) => l === "  rec_thread 100 2 SCHED_FIFO 5");
    const t3 = at((l) => l === "  rec_thread 100 3 SCHED_OTHER 0");
    const written = at((l) => l === '} >"$tmp"');
    const renamed = at((l) => l === 'mv -f "$tmp" "$rec"');
    const group = at((l) => l.includes('echo 500000 > "$cg"'));
    const bound = at((l) => l === "echo 500000 > /proc/sys/kernel/sched_rt_runtime_us");
    const rr = at((l) => l.includes("chrt -r -p 1 2"));
    assert.ok(lines.includes("rec=/run/x/sched.record") && lines.includes('tmp="$rec.tmp.$$"'), s);
    const order = [refuse, header, runtime, cg, t2, t3, written, renamed, group, bound, rr];
    assert.deepEqual(
      order,
      [...order].sort((x, y) => x - y),
      `order: ${order.join(",")}\n${s}`,
    );
    assert.ok(
      order.every((i) => i >= 0),
      `missing a step:\n${s}`,
    );
    assert.equal(
      lines.findIndex((l) => /chrt -r|> \/proc\/sys|> "\$cg"/.test(l)),
      group,
      "nothing changes before the record is in place",
    );
    assert.ok(lines[rr]?.includes("[ -d /proc/100/task/2 ]"));
    assert.ok(s.includes("chrt -r -p 1 3"));
    const unbounded = applyScript({ ...plan, runtime: { ...plan.runtime, setUs: null } }, "/f");
    assert.ok(!unbounded.includes("sched_rt_runtime_us"), "an unchanged runtime is not in the record");
    assert.ok(unbounded.includes("rec_thread 100 2 SCHED_FIFO 5"));
  });

  it("the record apply writes is what sched-restore.sh reads (real bash, scratch run dir)", () => {
    // the apply script's record part, with the change part cut off, against this very process
    const dir = mkdtempSync(join(tmpdir(), "rec-"));
    try {
      const me = { ...thread(process.pid, "node", [0, 1], process.pid), sched: other };
      const p = {
        ...plan,
        targets: [{ thread: me, label: "self" }],
        runtime: { ...plan.runtime, setUs: null },
      };
      const script = applyScript(p, join(dir, "sched.record"));
      const recordOnly = script.slice(0, script.indexOf("# from here on"));
      const w = spawnSync("bash", ["-s"], { input: recordOnly, encoding: "utf8" });
      assert.equal(w.status, 0, w.stderr);
      const rec = readFileSync(join(dir, "sched.record"), "utf8").split("\n");
      assert.equal(rec[0], SCHED_RECORD_HEADER);
      assert.match(rec[1] ?? "", new RegExp(`^thread ${process.pid} ${process.pid} \\d+ SCHED_OTHER 0$`));
      const again = spawnSync("bash", ["-s"], { input: recordOnly, encoding: "utf8" });
      assert.equal(again.status, 4, "refuses while a record is there");
      const r = spawnSync("bash", ["-s", "--", "restore"], {
        input: RESTORE,
        encoding: "utf8",
        env: { ...process.env, LAB_RUN_DIR: dir },
      });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout.trim()).threads, { restored: 1, gone: 0 });
      assert.ok(!existsSync(join(dir, "sched.record")));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("sweep and snapshot cover the given pids / pidfiles", () => {
    const sweep = sweepScript([{ pid: 100 }, { pidFile: "/run/a b.pid" }]);
    assert.ok(sweep.includes("sweep_pid 100"));
    assert.ok(sweep.includes(`sweep_pid "$(tr -dc 0-9 < '/run/a b.pid' 2>/dev/null)"`));
    const snap = snapshotScript([{ pid: 5 }, { pidFile: "/run/a b.pid" }]);
    assert.ok(snap.includes("sel 0 5"));
    assert.ok(snap.includes("'/run/a b.pid'"));
  });
});

const OPTS = { runDir: "/run/vhost-perf-lab/t", restoreScript: RESTORE };

describe("SchedController against a fake host", () => {
  const plan = parsePlan({
    stack: "t",
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
    const c = new SchedController(l.exec, plan.dut, plan.sched, OPTS);
    await c.apply(() => undefined);
    assert.deepEqual(
      l.rtThreads().map((t) => t.tid),
      [105, 203, 204],
    );
    assert.equal(l.rtRuntimeUs, 950000, "CPU 0 stays free: no runtime change");
    const calls = l.exec.calls.length;
    await c.revert();
    assert.equal(l.exec.calls.length, calls + 1, "one round trip: restore and sweep in one command");
    assert.deepEqual(l.rtThreads(), []);
  });

  it("bounds and restores the RT runtime when the vCPUs may run anywhere", async () => {
    const l = lab("0-1");
    const c = new SchedController(l.exec, plan.dut, plan.sched, OPTS);
    const { warnings } = await c.apply(() => undefined);
    assert.equal(l.rtRuntimeUs, 500000);
    assert.deepEqual(l.record?.runtime, 950000);
    assert.deepEqual(
      l.record?.threads.map((t) => `${t.tid} ${t.policy}`),
      ["105 SCHED_OTHER", "203 SCHED_OTHER", "204 SCHED_OTHER"],
    );
    assert.ok(l.events.indexOf("record written") < l.events.indexOf("runtime 500000"), "record first");
    assert.ok(warnings.some((w) => /bounded to 500000/.test(w)));
    assert.ok(l.events.indexOf("runtime 500000") < l.events.indexOf("rr 105"), "bound before the first RR");
    await c.revert();
    assert.equal(l.rtRuntimeUs, 950000);
    assert.equal(l.record, null);
    assert.deepEqual(l.rtThreads(), []);
    assert.ok(
      l.events.lastIndexOf("runtime 950000") > l.events.lastIndexOf("other 105"),
      "restore after the threads",
    );
  });

  it("recover() restores a record left by a run that died, and sweeps RR leftovers", async () => {
    const l = lab("1");
    l.record = { runtime: 950000, threads: [{ pid: 200, tid: 203, policy: "SCHED_OTHER", priority: 0 }] };
    l.rtRuntimeUs = 500000;
    (l.threads[1] as { policy: string }).policy = "SCHED_RR";
    (l.threads[3] as { policy: string }).policy = "SCHED_RR";
    const c = new SchedController(l.exec, plan.dut, plan.sched, OPTS);
    const notes = await c.recover();
    assert.equal(l.rtRuntimeUs, 950000);
    assert.deepEqual(l.rtThreads(), []);
    assert.equal(l.record, null);
    assert.ok(
      notes.some((n) =>
        /previous run left .*1 thread\(s\) back .*sched_rt_runtime_us back to 950000/.test(n),
      ),
      notes.join("\n"),
    );
    assert.ok(
      notes.some((n) => /thread 105 \(rte-worker-1\)/.test(n)),
      "not in the record: swept",
    );
  });

  it("after close() no change is made any more, and close() restores what was applied", async () => {
    const l = lab("0-1");
    const c = new SchedController(l.exec, plan.dut, plan.sched, OPTS);
    await c.apply(() => undefined);
    assert.equal(l.rtThreads().length, 3);
    await c.close();
    assert.deepEqual(l.rtThreads(), []);
    assert.equal(l.rtRuntimeUs, 950000);
    assert.equal(l.record, null);
    let planned = false;
    await assert.rejects(
      c.apply(() => {
        planned = true;
      }),
      AbortedError,
    );
    assert.equal(planned, false);
    assert.deepEqual(l.rtThreads(), []);
  });

  it("a revert that cannot restore keeps the record and says how to restore it", async () => {
    const l = lab("1");
    const c = new SchedController(l.exec, plan.dut, plan.sched, OPTS);
    await c.apply(() => undefined);
    const exec = l.exec as unknown as { run: typeof l.exec.run };
    const real = exec.run.bind(l.exec);
    exec.run = async (command, options) =>
      options?.stdin?.includes("__VPL_SCHED_RESTORE_EOF__")
        ? { code: 1, stdout: "", stderr: "chrt: boom", timedOut: false }
        : real(command, options);
    await assert.rejects(
      c.revert(),
      /reverting cfsrr1 failed .*chrt: boom.*record \/run\/vhost-perf-lab\/t\/sched\.record stays/,
    );
    assert.notEqual(l.record, null);
  });

  it("fails clearly when no data-plane thread is found", async () => {
    const l = lab("1");
    l.threads = l.threads.filter((t) => t.pid !== 100 && !t.comm.startsWith("CPU"));
    const c = new SchedController(l.exec, plan.dut, plan.sched, OPTS);
    await assert.rejects(
      c.apply(() => undefined),
      /no data-plane threads found/,
    );
  });
});
