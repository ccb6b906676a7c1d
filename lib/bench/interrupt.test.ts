/**
 * The real runner process (build/bin/bench-runner.js) interrupted in a cfsrr1 cell on this
 * machine (root, ~40 s): a helper process with two busy threads pinned to CPU 1 (the "vswitch
 * workers") and one sleeping thread allowed on both CPUs (the "vCPU", so the RR threads could
 * cover every CPU and the runner bounds sched_rt_runtime_us for the cell), trafgen in a scratch
 * netns sending through a veth pair (5 s trials: an interrupt always lands in one).
 *
 * The runner is started in its own process group and signalled like the command provider does
 * (the group). SIGINT runs it on local exec, SIGTERM over SSH to a throw-away sshd (there the
 * group signal cannot reach the remote trial: the runner must stop it). After either: exited
 * non-zero by itself within the provider's 3 s grace, no thread RR, the RT runtime as before,
 * the record and the run directory gone, no trafgen in the netns, no pacing qdisc. SIGKILL: the
 * threads stay RR, and scripts/sched-restore.sh down (the guard step at destroy) or the next run
 * puts everything back.
 *
 * Safety on 2 cores: the busy threads only ever run on CPU 1 and end by themselves after 90 s;
 * every scenario puts all threads back to SCHED_OTHER, the RT runtime back, and kills what it
 * started in `finally`, also when an assertion failed. Skipped when not root, when a tool is
 * missing, while another run's scheduling record exists, or with VPL_BENCH_ROOT_TESTS=0.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { has, isRoot, PATH, scriptPath } from "../../tests/support/host";
import { RT_CGROUP_FILES } from "./schedPolicy";
import {
  activeRecords,
  allOther,
  chrtPolicy,
  startTestSshd,
  startThreadHelper,
  type TestSshd,
  type ThreadHelper,
} from "./testSupport";

const RUNNER = join(__dirname, "..", "..", "bin", "bench-runner.js");
const RESTORE = scriptPath("sched-restore.sh");
const GRACE_MS = 3000; // the command provider: TERM to the group, 3 s, KILL
const RUNTIME = "/proc/sys/kernel/sched_rt_runtime_us";
const CGROUP = RT_CGROUP_FILES.find((f) => existsSync(f));
const id = String(process.pid % 100000);
const NETNS = `vpli-${id}`;

const busyElsewhere = activeRecords();
const skip =
  process.env.VPL_BENCH_ROOT_TESTS === "0"
    ? "VPL_BENCH_ROOT_TESTS=0"
    : !isRoot
      ? "needs root"
      : !existsSync(RUNNER)
        ? `${RUNNER} not built`
        : ["ip", "tc", "trafgen", "chrt", "python3"].find((t) => !has(t))
          ? "a tool is missing (ip, tc, trafgen, chrt, python3)"
          : busyElsewhere.length > 0
            ? `another run is in progress (${busyElsewhere.join(", ")})`
            : false;

const read = (f: string): string => readFileSync(f, "utf8").trim();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** policy of every thread of a process: tid -> "SCHED_RR/1" */
function policies(pid: number): Map<number, string> {
  const out = new Map<number, string>();
  if (!existsSync(`/proc/${pid}/task`)) return out;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const r = chrtPolicy(t);
    const pol = /policy: (SCHED_\w+)/.exec(r)?.[1];
    const prio = /priority: (\d+)/.exec(r)?.[1];
    if (pol) out.set(Number(t), `${pol}/${prio}`);
  }
  return out;
}
const rtThreads = (pid: number): string[] =>
  [...policies(pid)].filter(([, p]) => /SCHED_(RR|FIFO)/.test(p)).map(([t, p]) => `${t} ${p}`);

/** Processes in the scratch netns (trafgen, timeout, a trial's shell). */
function netnsPids(): string[] {
  const r = spawnSync("ip", ["netns", "pids", NETNS], { encoding: "utf8" });
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((p) => {
      try {
        return `${p} ${read(`/proc/${p}/comm`)}`;
      } catch {
        return `${p} ?`; // ended meanwhile
      }
    });
}
const pacingQdisc = (): string =>
  spawnSync("ip", ["netns", "exec", NETNS, "tc", "qdisc", "show", "dev", "tx0", "root"], { encoding: "utf8" })
    .stdout;

/**
 * Two busy threads pinned to CPU 1 (vplt-busy-N) and an idle one on CPUs 0-1 (vplt-idle). Every
 * scenario kills it when done; 90 s is only the bound should even that fail (reaching the cell
 * over SSH takes ~30 s here).
 */
function startBusy(): Promise<ThreadHelper> {
  const code = [
    "import os, threading, time",
    "end = time.time() + 90; stop = threading.Event(); ids = []; lock = threading.Lock()",
    "def name(n):",
    "    tid = threading.get_native_id()",
    "    with open(f'/proc/self/task/{tid}/comm', 'w') as f: f.write(n)",
    "    with lock: ids.append(tid)",
    "def busy(i):",
    "    os.sched_setaffinity(0, {1})",
    "    name(f'vplt-busy-{i}')",
    "    while time.time() < end and not stop.is_set(): pass",
    "def idle():",
    "    name('vplt-idle')",
    "    stop.wait(90)",
    "for i in range(2): threading.Thread(target=busy, args=(i,), daemon=True).start()",
    "threading.Thread(target=idle, daemon=True).start()",
    "while len(ids) < 3: time.sleep(0.01)",
    "print(' '.join(map(str, ids)), flush=True)",
    "stop.wait(max(0, end - time.time()))",
  ].join("\n");
  return startThreadHelper(code, "busy helper");
}

interface Runner {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/** The runner as the provider starts it: own process group, plan on stdin. */
function startRunner(plan: unknown): Runner {
  const child = spawn(process.execPath, [RUNNER, "--no-probe"], {
    detached: true,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  child.stdin?.end(JSON.stringify(plan));
  return { child, stdout: () => out, stderr: () => err, exited };
}

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    process.kill(-(child.pid as number), sig);
  } catch {
    // already gone
  }
}

describe("interrupting the real runner in a cfsrr1 cell (root)", { skip, timeout: 600_000 }, () => {
  const runtime0 = existsSync(RUNTIME) ? read(RUNTIME) : "";
  const cgroup0 = CGROUP ? read(CGROUP) : "";
  const runRootExisted = existsSync("/run/vhost-perf-lab");
  const stacks: string[] = [];
  const started: ChildProcess[] = [];
  let busyPid = 0;
  let sshd: TestSshd | undefined;
  const work = join(tmpdir(), `vpli-${id}`);

  /** Whatever happened: no RT thread, the RT runtime as it was, nothing of ours left running. */
  const putBack = (): void => {
    for (const child of started)
      if (child.exitCode === null && child.signalCode === null) killGroup(child, "SIGKILL");
    if (busyPid && existsSync(`/proc/${busyPid}/task`)) {
      allOther(busyPid);
      try {
        process.kill(busyPid, "SIGKILL");
      } catch {
        // gone
      }
    }
    busyPid = 0;
    if (runtime0 && read(RUNTIME) !== runtime0) writeFileSync(RUNTIME, `${runtime0}\n`);
    if (CGROUP && read(CGROUP) !== cgroup0) writeFileSync(CGROUP, `${cgroup0}\n`);
    for (const p of netnsPids()) spawnSync("kill", ["-KILL", p.split(" ")[0] as string]);
    for (const s of stacks) rmSync(`/run/vhost-perf-lab/${s}`, { recursive: true, force: true });
  };

  before(async () => {
    for (const args of [
      ["netns", "add", NETNS],
      ["-n", NETNS, "link", "add", "tx0", "type", "veth", "peer", "name", "rx0"],
      ["-n", NETNS, "link", "set", "tx0", "up"],
      ["-n", NETNS, "link", "set", "rx0", "up"],
    ]) {
      const r = spawnSync("ip", args, { encoding: "utf8" });
      assert.equal(r.status, 0, `ip ${args.join(" ")}: ${r.stderr}`);
    }
    if (existsSync("/usr/sbin/sshd"))
      sshd = await startTestSshd(`${work}/sshd`, 20000 + ((process.pid + 7) % 20000));
  });

  after(() => {
    putBack();
    sshd?.stop();
    spawnSync("ip", ["netns", "del", NETNS]);
    rmSync(work, { recursive: true, force: true });
    if (!runRootExisted) spawnSync("rmdir", ["/run/vhost-perf-lab"]);
    assert.equal(read(RUNTIME), runtime0, "the RT runtime is as before the tests");
  });

  const plan = (stack: string, pid: number, over: Record<string, unknown> = {}): Record<string, unknown> => ({
    name: "interrupt",
    stack,
    hosts: { dut: { transport: "local" } },
    dut: {
      host: "dut",
      vswitch: { pid, namePattern: "^vplt-busy-" },
      vms: [{ pid, namePattern: "^vplt-idle$" }],
      housekeepingCpus: [0],
    },
    tg: { kind: "trafgen", host: "dut", netns: NETNS, txIf: "tx0", rxIf: "rx0", settleS: 0.2 },
    cells: [{ frame: 64, policy: "cfsrr1", tests: ["mrr"] }],
    mrr: { trials: 10, trialDurationS: 5, maxLoadPps: 1000 },
    ...over,
  });

  /** Starts the busy helper and a runner; returns once the cell runs RR and a trial is sending. */
  async function intoTheCell(
    stack: string,
    hosts?: Record<string, unknown>,
  ): Promise<{ busy: ThreadHelper; runner: Runner }> {
    stacks.push(stack);
    const busy = await startBusy();
    started.push(busy.child);
    busyPid = busy.pid;
    const runner = startRunner(plan(stack, busy.pid, hosts ? { hosts } : {}));
    started.push(runner.child);
    const deadline = Date.now() + 90_000; // each SSH command costs ~1.7 s here (root's .bashrc)
    let trialSince = 0;
    for (;;) {
      const rr = rtThreads(busy.pid).length === 3;
      const sending = netnsPids().some((p) => / trafgen$/.test(p));
      if (rr && sending) {
        trialSince ||= Date.now();
        if (Date.now() - trialSince > 700) break; // well inside a 5 s trial
      }
      if (Date.now() > deadline || runner.child.exitCode !== null) {
        assert.fail(
          `the runner did not reach a cfsrr1 trial (RR threads: ${rtThreads(busy.pid).join(", ") || "none"}; ` +
            `netns: ${netnsPids().join(", ") || "empty"}):\n${runner.stderr()}`,
        );
      }
      await sleep(50);
    }
    return { busy, runner };
  }

  /** Everything back as it was: the assertions of every scenario's end. */
  function assertRestored(stack: string, busyPidNow: number): void {
    assert.deepEqual(rtThreads(busyPidNow), [], "no thread is RR/FIFO any more");
    assert.equal(read(RUNTIME), runtime0, "sched_rt_runtime_us is as before");
    if (CGROUP) assert.equal(read(CGROUP), cgroup0, "the root RT group's runtime is as before");
    assert.ok(!existsSync(`/run/vhost-perf-lab/${stack}/sched.record`), "the record is gone");
    assert.ok(!existsSync(`/run/vhost-perf-lab/${stack}/trafgen`), "the trafgen files are gone");
    assert.deepEqual(netnsPids(), [], "no trafgen (or trial shell) left in the netns");
    assert.doesNotMatch(pacingQdisc(), /tbf/, "the pacing qdisc is gone");
  }

  for (const [sig, transport] of [
    ["SIGINT", "local"],
    ["SIGTERM", "ssh"],
  ] as const) {
    it(`${sig} (${transport}): restores everything, then exits non-zero within the grace`, async (t) => {
      if (transport === "ssh" && !sshd) return t.skip("no /usr/sbin/sshd");
      const stack = `vpli-${id}-${sig.toLowerCase()}`;
      const hosts =
        transport === "ssh" && sshd
          ? {
              dut: {
                host: "127.0.0.1",
                port: sshd.port,
                user: "root",
                privateKeyPath: sshd.privateKeyPath,
                hostKey: sshd.hostKey,
              },
            }
          : undefined;
      // over SSH as in the lab: the stack's run dir exists (the guard step's step.sh has it)
      if (transport === "ssh") mkdirSync(`/run/vhost-perf-lab/${stack}`, { recursive: true });
      try {
        const { busy, runner } = await intoTheCell(stack, hosts);
        const record = existsSync(`/run/vhost-perf-lab/${stack}/sched.record`);
        const during = read(RUNTIME);
        const t0 = Date.now();
        killGroup(runner.child, sig);
        const exit = await Promise.race([runner.exited, sleep(10_000).then(() => null)]);
        assert.ok(exit, `the runner did not exit within 10 s of ${sig}:\n${runner.stderr()}`);
        const tookMs = exit.at - t0;
        t.diagnostic(`${sig} (${transport}): exited ${tookMs} ms after the signal`);
        assert.ok(
          tookMs < GRACE_MS,
          `exited ${tookMs} ms after ${sig} (grace ${GRACE_MS} ms):\n${runner.stderr()}`,
        );
        assert.equal(exit.signal, null, "it exited by itself (not killed by the signal)");
        assert.notEqual(exit.code, 0);
        assert.match(runner.stderr(), new RegExp(`${sig}: stopping now`));
        assert.match(runner.stderr(), /interrupted: scheduling restored, trafgen stopped/);
        assert.match(JSON.parse(runner.stdout()).fatal as string, new RegExp(`interrupted \\(${sig}\\)`));
        assert.ok(record, "the runner had written its record before changing anything");
        assert.ok(Number(during) < Number(runtime0), `the cell ran with the RT runtime bounded (${during})`);
        assertRestored(stack, busy.pid);
        assert.equal(
          existsSync(`/run/vhost-perf-lab/${stack}`),
          transport === "ssh",
          "the run directory is gone if the runner created it, kept if it was there",
        );
      } finally {
        putBack();
      }
    });
  }

  it("SIGKILL: the threads stay RR; sched-restore.sh down (the guard at destroy) restores everything", async () => {
    const stack = `vpli-${id}-kill`;
    try {
      const { busy, runner } = await intoTheCell(stack);
      killGroup(runner.child, "SIGKILL");
      await runner.exited;
      assert.equal(rtThreads(busy.pid).length, 3, "a hard kill cannot restore: the threads are still RR");
      assert.ok(existsSync(`/run/vhost-perf-lab/${stack}/sched.record`), "but the record is there");
      const r = spawnSync("bash", [RESTORE, "down"], {
        env: {
          PATH,
          LAB_RUN_DIR: `/run/vhost-perf-lab/${stack}`,
        },
        encoding: "utf8",
        timeout: 15_000,
      });
      assert.equal(r.status, 0, r.stderr);
      const j = JSON.parse(r.stdout.trim()) as {
        stale: boolean;
        threads: { restored: number };
        rtRuntimeUs: number;
      };
      assert.equal(j.stale, true);
      assert.equal(j.threads.restored, 3);
      assert.equal(String(j.rtRuntimeUs), runtime0);
      assertRestored(stack, busy.pid);
    } finally {
      putBack();
    }
  });

  it("SIGKILL: the next run restores the record and stops the leftover trial before its first cell", async () => {
    const stack = `vpli-${id}-next`;
    try {
      const { busy, runner } = await intoTheCell(stack);
      killGroup(runner.child, "SIGKILL");
      await runner.exited;
      assert.equal(rtThreads(busy.pid).length, 3);
      const next = startRunner(
        plan(stack, busy.pid, {
          cells: [{ frame: 64, policy: "cfs", tests: ["mrr"] }],
          mrr: { trials: 1, trialDurationS: 1, maxLoadPps: 1000 },
        }),
      );
      started.push(next.child);
      const exit = await Promise.race([next.exited, sleep(30_000).then(() => null)]);
      assert.ok(exit, `the next run did not end:\n${next.stderr()}`);
      assert.equal(exit.code, 0, next.stderr());
      const report = JSON.parse(next.stdout()) as { notes: string[]; cells: { mrr?: unknown }[] };
      assert.ok(
        report.notes.some((n) => /a previous run left scheduling changes/.test(n)),
        report.notes.join("\n"),
      );
      assert.ok(report.cells[0]?.mrr, "the new cell measured");
      assertRestored(stack, busy.pid);
    } finally {
      putBack();
    }
  });
});
