/** Test doubles and helpers for the bench tests (not used by the runner itself). */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ExecOptions, ExecResult, RemoteExec } from "./remote";

/**
 * Scheduling records of runs in progress on this machine (a real lab's runner): tests that change
 * the machine's RT runtime skip while there is one, so a real cfsrr1 cell keeps its bound.
 */
export function activeRecords(except: readonly string[] = []): string[] {
  const root = "/run/vhost-perf-lab";
  if (!existsSync(root)) return [];
  const legacy = join(root, "bench-rt-runtime.orig"); // what runners before the record parked
  return [
    ...readdirSync(root)
      .filter((d) => !except.includes(d))
      .map((d) => join(root, d, "sched.record"))
      .filter((f) => existsSync(f)),
    ...(existsSync(legacy) ? [legacy] : []),
  ];
}

export interface ThreadHelper {
  child: ChildProcess;
  pid: number;
  tids: number[];
}

/**
 * A python3 process running `code`, which prints the native ids of its threads on one line once
 * they run: resolves with them (rejects with "<what> exited early" when it ends before).
 */
export async function startThreadHelper(code: string, what: string): Promise<ThreadHelper> {
  const child = spawn("python3", ["-c", code], { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) resolve(out.trim());
    });
    child.on("exit", () => reject(new Error(`${what} exited early`)));
  });
  return { child, pid: child.pid as number, tids: line.split(" ").map(Number) };
}

/** `chrt -p` of a thread on one line: "pid N's current scheduling policy: SCHED_RR pid N's ... priority: 1 ". */
export const chrtPolicy = (tid: number | string): string =>
  spawnSync("chrt", ["-p", String(tid)], { encoding: "utf8" }).stdout.replace(/\n/g, " ");

/** Every thread of a process back to SCHED_OTHER. */
export function allOther(pid: number): void {
  if (!existsSync(`/proc/${pid}/task`)) return;
  for (const tid of readdirSync(`/proc/${pid}/task`)) spawnSync("chrt", ["-o", "-p", "0", tid]);
}

export interface Call {
  command: string;
  stdin: string;
}

export type Handler = (call: Call) => Partial<ExecResult> | Promise<Partial<ExecResult>>;

/** A RemoteExec that records every call and answers through `handler`. */
export class FakeExec implements RemoteExec {
  readonly name = "fake";
  readonly calls: Call[] = [];
  closed = false;

  constructor(private readonly handler: Handler) {}

  async run(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const call = { command, stdin: options.stdin ?? "" };
    this.calls.push(call);
    const r = await this.handler(call);
    return {
      code: r.code ?? 0,
      stdout: r.stdout ?? "",
      stderr: r.stderr ?? "",
      timedOut: r.timedOut ?? false,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export const ok = (stdout = ""): Partial<ExecResult> => ({ code: 0, stdout });

export interface FakeThread {
  pid: number;
  tid: number;
  comm: string;
  cpus: string;
  policy: string;
  priority: number;
}

/** The scheduling record as the fake host keeps it (what the apply script wrote). */
export interface FakeRecord {
  runtime: number | null;
  threads: { pid: number; tid: number; policy: string; priority: number }[];
}

/**
 * A pretend DUT+TG host that understands the runner's scripts well enough: scheduler snapshot,
 * cfsrr1 apply (record first) and sweep, scripts/sched-restore.sh (restore, stop-trial), host
 * facts, run directories, trafgen configs and trials.
 */
export class FakeLab {
  rtRuntimeUs = 950000;
  rtPeriodUs = 1000000;
  online = "0-1";
  /** the record on the host (sched.record), or null */
  record: FakeRecord | null = null;
  /** a trial (1-based) that runs until stop-trial ends it (an interrupt lands during it) */
  hangTrial: number | null = null;
  /** resolves when the hanging trial has started */
  trialHanging: Promise<void>;
  private hangStarted: () => void = () => undefined;
  private hangRelease: (() => void) | null = null;
  stopTrials = 0;
  threads: FakeThread[] = [];
  pidFiles = new Map<string, number>();
  /** forwarding model: received = offered x (1 - lossAt(pps)) */
  lossAt: (pps: number) => number = () => 0;
  txCounter = 1000n;
  rxCounter = 500n;
  /** throws/fails the trial with this number (1-based), to test error paths */
  failTrial: number | null = null;
  trials = 0;
  /** every RT change in order, for assertions: "runtime 500000", "rr 101", "other 101" */
  events: string[] = [];
  mtu = 1500;
  readonly exec: FakeExec;

  constructor() {
    this.exec = new FakeExec((call) => this.handle(call));
    this.trialHanging = new Promise((resolve) => {
      this.hangStarted = resolve;
    });
  }

  rtThreads(): FakeThread[] {
    return this.threads.filter((t) => t.policy === "SCHED_RR" || t.policy === "SCHED_FIFO");
  }

  private chrtText(t: FakeThread): string {
    return `pid ${t.tid}'s current scheduling policy: ${t.policy}|pid ${t.tid}'s current scheduling priority: ${t.priority}|`;
  }

  private setPolicy(tid: number, flag: string, prio: number): void {
    const t = this.threads.find((x) => x.tid === tid);
    if (!t) return;
    const policy = {
      "-o": "SCHED_OTHER",
      "-r": "SCHED_RR",
      "-f": "SCHED_FIFO",
      "-b": "SCHED_BATCH",
      "-i": "SCHED_IDLE",
    }[flag];
    if (!policy) throw new Error(`fake: chrt flag ${flag}`);
    t.policy = policy;
    t.priority = prio;
    this.events.push(`${policy === "SCHED_OTHER" ? "other" : policy === "SCHED_RR" ? "rr" : policy} ${tid}`);
  }

  /** scripts/sched-restore.sh restore: threads back, then the runtime, then the record goes. */
  private restore(): Partial<ExecResult> {
    const r = this.record;
    let restored = 0;
    let gone = 0;
    if (r) {
      for (const t of r.threads) {
        if (!this.threads.some((x) => x.tid === t.tid)) gone++;
        else {
          const flag = {
            SCHED_OTHER: "-o",
            SCHED_RR: "-r",
            SCHED_FIFO: "-f",
            SCHED_BATCH: "-b",
            SCHED_IDLE: "-i",
          }[t.policy] as string;
          this.setPolicy(t.tid, flag, t.priority);
          restored++;
        }
      }
      if (r.runtime !== null) {
        this.rtRuntimeUs = r.runtime;
        this.events.push(`runtime ${r.runtime}`);
      }
      this.record = null;
      this.events.push("record removed");
    }
    return ok(
      JSON.stringify({
        verb: "restore",
        record: "/run/vhost-perf-lab/fake/sched.record",
        found: r !== null,
        threads: { restored, gone },
        failed: 0,
        rtRuntimeUs: r?.runtime ?? null,
        cgroupRtRuntimeUs: null,
      }) + "\n",
    );
  }

  private handle(call: Call): Partial<ExecResult> | Promise<Partial<ExecResult>> {
    const script = call.stdin;
    const all = `${call.command}\n${script}`;
    if (script.includes("printf 'O\\t")) return ok(this.snapshot(script));
    if (script.includes('printf "kernel')) {
      return ok(`kernel\t6.1.0\nonline\t${this.online}\nnproc\t2\nrtRuntimeUs\t${this.rtRuntimeUs}\n`);
    }
    if (/bash -s -- (restore|stop-trial|check|down)$/.test(call.command)) {
      if (!script.includes("sched-restore.sh")) throw new Error("fake: sched-restore.sh was not shipped");
      if (call.command.endsWith("-- restore")) return this.restore();
      if (call.command.endsWith("-- stop-trial")) {
        this.stopTrials++;
        this.events.push("stop-trial");
        const stopped = this.hangRelease ? 1 : 0;
        this.hangRelease?.();
        this.hangRelease = null;
        return ok(
          `{"verb":"stop-trial","trial":{"stopped":${stopped},"qdiscRemoved":false,"filesRemoved":false}}\n`,
        );
      }
      throw new Error(`fake: sched-restore.sh ${call.command}`);
    }
    if (script.includes("__VPL_SCHED_RESTORE_EOF__")) {
      // restoreAndSweepScript: sched-restore.sh restore (shipped inside), then the sweep lines
      if (!/^env LAB_RUN_DIR=\S+ bash -s -- restore <<'__VPL_SCHED_RESTORE_EOF__'/m.test(script))
        throw new Error("fake: restore+sweep without the restore");
      if (!script.includes("sched-restore.sh: puts back"))
        throw new Error("fake: sched-restore.sh was not shipped");
      const restored = this.restore().stdout ?? "";
      return ok(restored + this.sweep(script));
    }
    if (script.includes("mkdir /run/vhost-perf-lab") || call.command.startsWith("for d in")) return ok();
    if (call.command.startsWith("mkdir -p") && call.command.includes("cat >")) return ok();
    if (call.command.includes("/mtu")) return ok(`${this.mtu}\n${this.mtu}\n`);
    if (call.command.endsWith("bash -s") && script.includes("timeout -s INT")) return this.trial(script);
    if (script.includes("vhost-perf-lab-sched-record 1")) {
      // applyScript: refuse over an old record; write the record; then the changes below
      if (this.record !== null) return { code: 4, stderr: "cfsrr1: sched.record is still there" };
      const rec: FakeRecord = { runtime: null, threads: [] };
      for (const line of script.split("\n")) {
        const t = /^ {2}rec_thread (\d+) (\d+) (\S+) (\d+)$/.exec(line);
        if (t && this.threads.some((x) => x.tid === Number(t[2]))) {
          rec.threads.push({
            pid: Number(t[1]),
            tid: Number(t[2]),
            policy: t[3] as string,
            priority: Number(t[4]),
          });
        }
        if (line.includes('echo "runtime sysctl')) rec.runtime = this.rtRuntimeUs;
      }
      this.record = rec;
      this.events.push("record written");
    }
    // apply / sweep scripts
    let out = "";
    for (const line of all.split("\n")) {
      let m = /^echo (-?\d+) > \/proc\/sys\/kernel\/sched_rt_runtime_us/.exec(line);
      if (m) {
        this.rtRuntimeUs = Number(m[1]);
        this.events.push(`runtime ${m[1]}`);
        continue;
      }
      m = /chrt (-[orfbi]) -p (\d+) (\d+)/.exec(line);
      if (m && !line.includes("for t in")) {
        const tid = Number(m[3]);
        if (this.threads.some((t) => t.tid === tid)) this.setPolicy(tid, m[1] as string, Number(m[2]));
        else out += `gone ${tid}\n`;
        continue;
      }
    }
    return ok(out);
  }

  /** The sweep_pid lines of a script: every RR/FIFO thread of those processes to SCHED_OTHER. */
  private sweep(script: string): string {
    let out = "";
    for (const line of script.split("\n")) {
      const m = /^sweep_pid (?:(\d+)|"\$\(tr -dc 0-9 < (\S+) 2>\/dev\/null\)")$/.exec(line);
      if (!m) continue;
      const pid = m[1] !== undefined ? Number(m[1]) : this.pidFiles.get(m[2] as string);
      for (const t of this.threads.filter((x) => x.pid === pid)) {
        if (t.policy === "SCHED_RR" || t.policy === "SCHED_FIFO") {
          this.setPolicy(t.tid, "-o", 0);
          out += `swept\t${t.tid}\t${t.comm}\n`;
        }
      }
    }
    return out;
  }

  private snapshot(script: string): string {
    let out = `O\t${this.online}\nR\t${this.rtRuntimeUs}\t${this.rtPeriodUs}\n`;
    for (const line of script.split("\n")) {
      const m = /^sel (\d+) (?:(\d+)|"\$\(tr -dc 0-9 < (\S+) 2>\/dev\/null\)")$/.exec(line);
      if (!m) continue;
      const pid = m[2] !== undefined ? Number(m[2]) : this.pidFiles.get(m[3] as string);
      if (pid === undefined || !this.threads.some((t) => t.pid === pid)) {
        out += `S\t${m[1]}\t-\n`;
        continue;
      }
      out += `S\t${m[1]}\t${pid}\n`;
      for (const t of this.threads.filter((x) => x.pid === pid)) {
        out += `T\t${t.pid}\t${t.tid}\t${t.cpus}\t${this.chrtText(t)}\t${t.comm}\n`;
      }
    }
    return out;
  }

  private trial(script: string): Partial<ExecResult> | Promise<Partial<ExecResult>> {
    this.trials++;
    if (this.failTrial === this.trials) return { code: 1, stderr: "fake: connection lost" };
    if (this.hangTrial === this.trials) {
      // runs until stop-trial kills it (the trial script exits 143 on TERM)
      return new Promise((resolve) => {
        this.hangRelease = () => resolve({ code: 143, stderr: "" });
        this.hangStarted();
      });
    }
    const pps = Number(/-b (\d+)pps/.exec(script)?.[1]);
    const count = Number(/-n (\d+)/.exec(script)?.[1]);
    // one trafgen per direction; each direction loses the same share here
    const directions = script.split("timeout -s INT").length - 1;
    const received = Math.round(count * (1 - this.lossAt(pps)));
    const lines: string[] = [];
    for (let d = 0; d < directions; d++)
      lines.push(`C before ${d} 7 ${this.txCounter} 8 ${this.rxCounter} 0`);
    this.txCounter += BigInt(count);
    this.rxCounter += BigInt(received);
    for (let d = 0; d < directions; d++) lines.push(`C after ${d} 7 ${this.txCounter} 8 ${this.rxCounter} 0`);
    for (let d = 0; d < directions; d++) lines.push(`RC ${d} 0`);
    lines.push("WALL 1020000");
    for (let d = 0; d < directions; d++)
      lines.push(`T ${d}            1 sec, 1000 usec on CPU0 (${count} packets)`);
    return ok(`${lines.join("\n")}\n`);
  }
}

export interface TestSshd {
  port: number;
  /** the accepted pin: the host's public key line */
  hostKey: string;
  privateKeyPath: string;
  stop(): void;
}

/** A throw-away sshd on 127.0.0.1:<port> (root, key only), its keys and config in `dir`. */
export async function startTestSshd(dir: string, port: number): Promise<TestSshd> {
  mkdirSync(dir, { recursive: true });
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/host`]);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/client`]);
  writeFileSync(`${dir}/authorized_keys`, readFileSync(`${dir}/client.pub`));
  writeFileSync(
    `${dir}/sshd_config`,
    [
      "ListenAddress 127.0.0.1",
      `Port ${port}`,
      `HostKey ${dir}/host`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      `PidFile ${dir}/sshd.pid`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "LogLevel ERROR",
      "",
    ].join("\n"),
  );
  mkdirSync("/run/sshd", { recursive: true });
  execFileSync("/usr/sbin/sshd", ["-f", `${dir}/sshd_config`, "-E", `${dir}/log`]);
  // the pidfile may exist before sshd has written its pid: wait for a real one (a pid of 0 would
  // make stop() signal this whole process group, the test runner and CI included)
  const readPid = (): number => {
    try {
      return Number(readFileSync(`${dir}/sshd.pid`, "utf8").trim()) || 0;
    } catch {
      return 0;
    }
  };
  for (let i = 0; i < 100 && readPid() <= 1; i++) await new Promise((r) => setTimeout(r, 100));
  const pid = readPid();
  if (pid <= 1) throw new Error(`test sshd in ${dir} wrote no pid (log: ${dir}/log)`);
  return {
    port,
    hostKey: readFileSync(`${dir}/host.pub`, "utf8").trim(),
    privateKeyPath: `${dir}/client`,
    stop: () => {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // already gone
      }
    },
  };
}
