/**
 * scripts/sched-restore.sh against this machine (root): a record naming real threads of a
 * sleeping helper process (never busy: an RR thread here only sleeps), the RT runtime (global
 * sysctl and the root RT group) lowered and put back, a leftover "trial" process and a tbf qdisc
 * in a scratch netns. Every change is undone in `finally`, also when an assertion fails. Parts
 * that touch the machine's RT runtime are skipped while another run's record exists under
 * /run/vhost-perf-lab (a real lab's cfsrr1 cell must not get its bound changed under it).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { has, isRoot, PATH, scriptPath, TempDirs } from "../../tests/support/host";
import { statFields } from "../../tests/support/proc";
import { RT_CGROUP_FILES, SCHED_RECORD_HEADER } from "./schedPolicy";
import { activeRecords, allOther, chrtPolicy, startThreadHelper, type ThreadHelper } from "./testSupport";

const SCRIPT = scriptPath("sched-restore.sh");
const RUNTIME = "/proc/sys/kernel/sched_rt_runtime_us";
const CGROUP = RT_CGROUP_FILES.find((f) => existsSync(f));

const skipAll = !isRoot ? "needs root" : !has("chrt") || !has("python3") ? "needs chrt and python3" : false;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  json: Record<string, unknown>;
}

function run(verb: string, runDir: string): Run {
  const r = spawnSync("bash", [SCRIPT, verb], {
    env: { PATH, LAB_RUN_DIR: runDir },
    encoding: "utf8",
    timeout: 30_000,
  });
  const last = r.stdout.trim().split("\n").pop() ?? "";
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(last) as Record<string, unknown>;
  } catch {
    // asserted by the caller
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json };
}

const chrt = (args: string[]): void => {
  const r = spawnSync("chrt", args, { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
};
const startTime = (pid: number, tid: number): string =>
  statFields(`/proc/${pid}/task/${tid}/stat`)[19] as string;

/** A python process with `n` sleeping threads (it ends by itself after 60 s). */
function sleepers(n: number): Promise<ThreadHelper> {
  const code = [
    "import threading, sys",
    "ev = threading.Event(); ids = []; lock = threading.Lock()",
    "def f():",
    "    with lock: ids.append(threading.get_native_id())",
    "    ev.wait(60)",
    `for _ in range(${n}): threading.Thread(target=f, daemon=True).start()`,
    `while len(ids) < ${n}: pass`,
    "print(' '.join(map(str, ids)), flush=True)",
    "ev.wait(60)",
  ].join("\n");
  return startThreadHelper(code, "helper");
}

describe("scripts/sched-restore.sh", { skip: skipAll, timeout: 60_000 }, () => {
  const tmp = new TempDirs();
  let dir = "";
  before(() => {
    dir = tmp.make("sched-restore-");
  });
  after(() => tmp.removeAll());

  it("is misuse-proof: a verb and the stack's run dir are required", () => {
    assert.equal(run("", dir).status, 2);
    assert.equal(run("restore", "relative/dir").status, 2);
    assert.equal(run("restore", "/tmp/../etc").status, 2);
    assert.match(run("frobnicate", dir).stderr, /usage: sched-restore.sh restore\|stop-trial\|check\|down/);
  });

  it("without a record there is nothing to do", () => {
    const r = run("restore", dir);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.json, {
      verb: "restore",
      record: `${dir}/sched.record`,
      found: false,
      threads: { restored: 0, gone: 0 },
      failed: 0,
      rtRuntimeUs: null,
      cgroupRtRuntimeUs: null,
    });
    const c = run("check", dir);
    assert.equal(c.status, 0, c.stderr);
    assert.equal(c.json.stale, false);
  });

  it("puts each listed thread back to its own policy; gone and reused TIDs are skipped", async () => {
    const { child, pid, tids } = await sleepers(4);
    const [fifo, batch, other, reused] = tids as [number, number, number, number];
    try {
      chrt(["-f", "-p", "5", String(fifo)]); // the original of this one is FIFO 5
      chrt(["-b", "-p", "0", String(batch)]);
      const lines = [
        SCHED_RECORD_HEADER,
        `thread ${pid} ${fifo} ${startTime(pid, fifo)} SCHED_FIFO 5`,
        `thread ${pid} ${batch} ${startTime(pid, batch)} SCHED_BATCH 0`,
        `thread ${pid} ${other} ${startTime(pid, other)} SCHED_OTHER 0`,
        // its TID now belongs to "another" thread (a different start time): left alone
        `thread ${pid} ${reused} ${Number(startTime(pid, reused)) + 1} SCHED_OTHER 0`,
        `thread ${pid} 4194301 12345 SCHED_OTHER 0`, // gone
      ];
      writeFileSync(`${dir}/sched.record`, `${lines.join("\n")}\n`);
      for (const tid of tids) chrt(["-r", "-p", "1", String(tid)]); // what cfsrr1 did
      const r = run("restore", dir);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.json.threads, { restored: 3, gone: 2 });
      assert.equal(r.json.found, true);
      assert.match(chrtPolicy(fifo), /SCHED_FIFO .*priority: 5/);
      assert.match(chrtPolicy(batch), /SCHED_BATCH/);
      assert.match(chrtPolicy(other), /SCHED_OTHER/);
      assert.match(chrtPolicy(reused), /SCHED_RR/, "a thread the record does not really name is not touched");
      assert.ok(!existsSync(`${dir}/sched.record`), "the record is removed after a clean restore");
    } finally {
      allOther(pid);
      child.kill("SIGKILL");
    }
  });

  it("keeps a record it cannot fully restore, says why, and exits 1", () => {
    writeFileSync(
      `${dir}/sched.record`,
      `${SCHED_RECORD_HEADER}\nthread 1 1 x SCHED_OTHER 0\nruntime cgroup /etc/passwd 5\nbogus line\n`,
    );
    const r = run("restore", dir);
    assert.equal(r.status, 1);
    assert.equal(r.json.failed, 3);
    assert.match(r.stderr, /not a thread record/);
    assert.match(r.stderr, /not a runtime record/);
    assert.ok(existsSync(`${dir}/sched.record`));
    writeFileSync(`${dir}/sched.record`, "something else\n");
    const r2 = run("restore", dir);
    assert.equal(r2.status, 1);
    assert.match(r2.stderr, /not a scheduling record this script knows/);
    rmSync(`${dir}/sched.record`);
    writeFileSync(`${dir}/sched.record.tmp.123`, "half written\n");
    assert.equal(run("restore", dir).status, 0);
    assert.ok(!existsSync(`${dir}/sched.record.tmp.123`), "a half-written record never took effect: dropped");
  });

  it(
    "restores the RT runtime: the global sysctl, then the root RT group",
    { skip: activeRecords().length > 0 ? `a run is in progress (${activeRecords().join(", ")})` : false },
    () => {
      const sysctl0 = readFileSync(RUNTIME, "utf8").trim();
      const cg0 = CGROUP ? readFileSync(CGROUP, "utf8").trim() : "";
      const lower = String(Math.min(900000, Number(sysctl0) > 0 ? Number(sysctl0) - 50000 : 900000));
      try {
        // lowered the way cfsrr1 lowers it: the root group first, then the sysctl
        if (CGROUP) writeFileSync(CGROUP, `${lower}\n`);
        writeFileSync(RUNTIME, `${lower}\n`);
        const lines = [SCHED_RECORD_HEADER, `runtime sysctl ${sysctl0}`];
        if (CGROUP) lines.push(`runtime cgroup ${CGROUP} ${cg0}`);
        writeFileSync(`${dir}/sched.record`, `${lines.join("\n")}\n`);
        const r = run("restore", dir);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.json.rtRuntimeUs, Number(sysctl0));
        assert.equal(readFileSync(RUNTIME, "utf8").trim(), sysctl0);
        if (CGROUP) assert.equal(readFileSync(CGROUP, "utf8").trim(), cg0);
        // a value the kernel refuses: reported, record kept
        writeFileSync(`${dir}/sched.record`, `${SCHED_RECORD_HEADER}\nruntime sysctl 5000000000\n`);
        const bad = run("restore", dir);
        assert.equal(bad.status, 1);
        assert.match(bad.stderr, /could not write 5000000000/);
        assert.ok(existsSync(`${dir}/sched.record`));
        rmSync(`${dir}/sched.record`);
      } finally {
        if (readFileSync(RUNTIME, "utf8").trim() !== sysctl0) writeFileSync(RUNTIME, `${sysctl0}\n`);
        if (CGROUP && readFileSync(CGROUP, "utf8").trim() !== cg0) writeFileSync(CGROUP, `${cg0}\n`);
      }
    },
  );

  it(
    "check/down: a killed run's record, trial processes, pacing qdisc and files are all cleaned up",
    { skip: !has("ip") || !has("tc") || !has("setsid") ? "needs ip, tc, setsid" : false },
    async () => {
      const ns = `vplsr-${process.pid % 100000}`;
      const { child, pid, tids } = await sleepers(1);
      const tid = tids[0] as number;
      // a "trial" left by a killed runner: a process in its own session, as timeout(1) is
      const trial = spawn("setsid", ["sleep", "30"], { stdio: "ignore" });
      const stranger = spawn("sleep", ["30"], { stdio: "ignore" });
      try {
        for (const args of [
          ["netns", "add", ns],
          ["-n", ns, "link", "add", "d0", "type", "veth", "peer", "name", "d1"],
          ["-n", ns, "link", "set", "d0", "up"],
          ["-n", ns, "link", "set", "d1", "up"],
        ])
          assert.equal(spawnSync("ip", args).status, 0, `ip ${args.join(" ")}`);
        // a bidirectional trial paces both ports
        for (const dev of ["d0", "d1"]) {
          const tc = spawnSync("ip", [
            ...["netns", "exec", ns, "tc", "qdisc", "replace", "dev", dev, "root", "tbf"],
            ...["rate", "1mbit", "burst", "1600", "limit", "30000"],
          ]);
          assert.equal(tc.status, 0, tc.stderr?.toString());
        }
        await new Promise((r) => setTimeout(r, 100));
        const tpid = trial.pid as number;
        const st = (p: number): string => startTime(p, p);
        mkdirSync(`${dir}/trafgen`, { recursive: true });
        writeFileSync(`${dir}/trafgen/udp-64B.cfg`, "{ 0 }\n");
        writeFileSync(
          `${dir}/trafgen/trial.pid`,
          // the stranger is listed with a wrong start time: not ours, never signalled
          `${tpid} ${st(tpid)}\n${stranger.pid} ${Number(st(stranger.pid as number)) + 7}\nqdisc ${ns} d0\nqdisc ${ns} d1\n`,
        );
        chrt(["-r", "-p", "1", String(tid)]);
        writeFileSync(
          `${dir}/sched.record`,
          `${SCHED_RECORD_HEADER}\nthread ${pid} ${tid} ${startTime(pid, tid)} SCHED_OTHER 0\n`,
        );
        const t = Date.now();
        const r = run("down", dir);
        assert.equal(r.status, 0, r.stderr);
        assert.ok(Date.now() - t < 3000);
        assert.equal(r.json.stale, true);
        assert.deepEqual(r.json.threads, { restored: 1, gone: 0 });
        assert.deepEqual(r.json.trial, { stopped: 1, qdiscRemoved: true, filesRemoved: true });
        assert.match(r.stderr, /a killed benchmark run had left/);
        assert.match(chrtPolicy(tid), /SCHED_OTHER/);
        assert.ok(!existsSync(`${dir}/sched.record`));
        assert.ok(!existsSync(`${dir}/trafgen`));
        await new Promise((r) => setTimeout(r, 100));
        assert.notEqual(trial.exitCode ?? trial.signalCode, null, "the trial process was stopped");
        assert.equal(stranger.exitCode ?? stranger.signalCode, null, "a process that is not ours lives on");
        for (const dev of ["d0", "d1"]) {
          const q = spawnSync("ip", ["netns", "exec", ns, "tc", "qdisc", "show", "dev", dev, "root"], {
            encoding: "utf8",
          });
          assert.doesNotMatch(q.stdout, /tbf/, `${dev}'s pacing qdisc is gone`);
        }
        const again = run("check", dir);
        assert.equal(again.json.stale, false, "a second call finds nothing");
      } finally {
        allOther(pid);
        child.kill("SIGKILL");
        trial.kill("SIGKILL");
        stranger.kill("SIGKILL");
        spawnSync("ip", ["netns", "del", ns]);
      }
    },
  );
});
