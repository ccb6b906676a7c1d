/** Test doubles for the bench tests (not used by the runner itself). */
import type { ExecOptions, ExecResult, RemoteExec } from "./remote";

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

/**
 * A pretend DUT+TG host that understands the runner's scripts well enough: scheduler snapshot,
 * cfsrr1 apply/revert/sweep, RT runtime parking, host facts, trafgen configs and trials.
 */
export class FakeLab {
  rtRuntimeUs = 950000;
  rtPeriodUs = 1000000;
  online = "0-1";
  stateFile: string | null = null;
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

  private handle(call: Call): Partial<ExecResult> {
    const script = call.stdin;
    const all = `${call.command}\n${script}`;
    if (script.includes("printf 'O\\t")) return ok(this.snapshot(script));
    if (script.includes('printf "kernel')) {
      return ok(`kernel\t6.1.0\nonline\t${this.online}\nnproc\t2\nrtRuntimeUs\t${this.rtRuntimeUs}\n`);
    }
    if (script.includes("while read -r kind a b")) {
      // restoreRuntimeScript
      if (this.stateFile !== null) {
        const v = this.stateFile;
        this.rtRuntimeUs = Number(v);
        this.stateFile = null;
        this.events.push(`runtime ${v}`);
        return ok(`restored sysctl ${v}\n`);
      }
      return ok();
    }
    if (call.command.startsWith("mkdir -p") && call.command.includes("cat >")) return ok();
    if (call.command.startsWith("rm -f")) return ok();
    if (call.command.includes("/mtu")) return ok(`${this.mtu}\n${this.mtu}\n`);
    if (call.command.includes("ip netns exec") && script.includes("trafgen")) return this.trial(script);
    // apply / revert / sweep / runtime restore scripts
    let out = "";
    for (const line of all.split("\n")) {
      if (/^if \[ ! -e \S+ \]; then mkdir/.test(line)) {
        if (this.stateFile === null) this.stateFile = String(this.rtRuntimeUs);
        continue;
      }
      let m = /^echo (-?\d+) > \/proc\/sys\/kernel\/sched_rt_runtime_us/.exec(line);
      if (m) {
        this.rtRuntimeUs = Number(m[1]);
        this.events.push(`runtime ${m[1]}`);
        continue;
      }
      if (/^rm -f /.test(line)) {
        this.stateFile = null;
        continue;
      }
      m = /chrt (-[orfbi]) -p (\d+) (\d+)/.exec(line);
      if (m && !line.startsWith("for t in")) {
        const tid = Number(m[3]);
        if (this.threads.some((t) => t.tid === tid)) this.setPolicy(tid, m[1] as string, Number(m[2]));
        else out += `gone ${tid}\n`;
        continue;
      }
      m = /^for t in \/proc\/(\d+)\/task/.exec(line);
      if (m) {
        const pid = Number(m[1]);
        for (const t of this.threads.filter((x) => x.pid === pid)) {
          if (t.policy === "SCHED_RR" || t.policy === "SCHED_FIFO") {
            this.setPolicy(t.tid, "-o", 0);
            out += `swept\t${t.tid}\t${t.comm}\n`;
          }
        }
      }
    }
    return ok(out);
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

  private trial(script: string): Partial<ExecResult> {
    this.trials++;
    if (this.failTrial === this.trials) return { code: 1, stderr: "fake: connection lost" };
    const pps = Number(/-b (\d+)pps/.exec(script)?.[1]);
    const count = Number(/-n (\d+)/.exec(script)?.[1]);
    const received = Math.round(count * (1 - this.lossAt(pps)));
    const before = `C before 7 ${this.txCounter} 8 ${this.rxCounter} 0`;
    this.txCounter += BigInt(count);
    this.rxCounter += BigInt(received);
    const after = `C after 7 ${this.txCounter} 8 ${this.rxCounter} 0`;
    return ok(
      `${before}\n${after}\nRC 0\nWALL 1020000\n           1 sec, 1000 usec on CPU0 (${count} packets)\n`,
    );
  }
}
