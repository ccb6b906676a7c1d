/**
 * TrafficGenerator over trafgen (netsniff-ng) in a network namespace, driven through one SSH
 * connection (DESIGN.md §4): trafgen sends on the netns end of one veth pair at a software-limited
 * rate, the vswitch forwards, and what comes back is counted on the netns end of the other pair.
 *
 * One trial is one remote command: read the counters, run trafgen for the trial (bounded by a
 * deadline), wait for packets still in flight, read the counters again. offered = tx delta of the
 * sending interface, received = rx delta of the counting one. One direction only (directions = 1).
 *
 * Everything it puts on the TG host lives in <runDir>/trafgen (runDir = /run/vhost-perf-lab/<stack>):
 * the configs, and while a trial runs its pids and the pacing qdisc in trial.pid. stop() ends a
 * running trial and removes the directory (scripts/sched-restore.sh stop-trial, the same code the
 * Benchmark's guard step runs after a runner was killed).
 */
import type { TrafficGenerator, TrialCounts, TrialRequest } from "../measure/trafficGenerator";
import { frameLabel, type FrameSize } from "../measure/units";
import { CounterAnomalyError, counterDelta, parseCounter, type CounterReading } from "./counters";
import { AbortedError, settledWithin } from "./abort";
import type { TrafgenSpec } from "./plan";
import {
  prepared,
  RemoteCommandError,
  runChecked,
  shQuote,
  withEnv,
  type PreparedCommand,
  type RemoteExec,
} from "./remote";
import { trafgenConfig, type TrafgenConfig } from "./trafgenConfig";

/** The frame cannot be carried by this TG setup (MTU, trafgen ring slots, af_packet frames). */
export class UnsupportedFrameError extends Error {
  constructor(
    readonly frame: FrameSize,
    reason: string,
  ) {
    super(`unsupported frame size on this TG: ${frameLabel(frame)}: ${reason}`);
    this.name = "UnsupportedFrameError";
  }
}

export interface TrialDetails {
  /** wall time of the trafgen process (including its start-up), seconds */
  wallS: number;
  /** trafgen's own report of its sending time, seconds (null if it printed none) */
  trafgenS: number | null;
  /** true when the deadline cut trafgen short */
  cutByDeadline: boolean;
  txDropped: number;
  counterKinds: string[];
}

export interface TrafgenOptions {
  /** the stack's run directory on the TG host (/run/vhost-perf-lab/<stack>); files go to <runDir>/trafgen */
  runDir: string;
  /** scripts/sched-restore.sh (its stop-trial verb ends a running trial and removes the files) */
  cleanupScript: string;
  /** Deadline = duration x (1 + slackRatio) + slackS: trafgen start-up is ~20-40 ms here. */
  slackRatio?: number;
  slackS?: number;
  /** Counter anomalies (reset, foreign traffic): retries before giving up. */
  retries?: number;
}

interface Readings {
  tx: CounterReading;
  rx: CounterReading;
  txDropped: bigint;
}

/** Parses "C <label> <txIfindex> <tx> <rxIfindex> <rx> <txDropped>" records of the trial script. */
export function parseTrialOutput(stdout: string): {
  before: Readings;
  after: Readings;
  rc: number;
  wallUs: number;
  trafgenS: number | null;
} {
  const readings = new Map<string, Readings>();
  let rc: number | undefined;
  let wallUs: number | undefined;
  let trafgenS: number | null = null;
  for (const line of stdout.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[0] === "C" && f.length >= 7) {
      readings.set(f[1] as string, {
        tx: { ifindex: Number(f[2]), value: parseCounter(f[3] as string, "tx_packets") },
        rx: { ifindex: Number(f[4]), value: parseCounter(f[5] as string, "rx_packets") },
        txDropped: parseCounter(f[6] as string, "tx_dropped"),
      });
    } else if (f[0] === "RC") rc = Number(f[1]);
    else if (f[0] === "WALL") wallUs = Number(f[1]);
    else {
      // trafgen's summary: "1 sec, 6858 usec on CPU0 (50000 packets)"
      const m = /(\d+) sec, (\d+) usec on CPU/.exec(line);
      if (m) trafgenS = Number(m[1]) + Number(m[2]) / 1e6;
    }
  }
  const before = readings.get("before");
  const after = readings.get("after");
  if (!before || !after || rc === undefined || wallUs === undefined) {
    throw new Error(`unexpected trial output: ${JSON.stringify(stdout.slice(0, 400))}`);
  }
  return { before, after, rc, wallUs, trafgenS };
}

/** Deadline of a trial: trafgen gets its duration plus a little slack for start-up. */
export function trialDeadlineS(durationS: number, slackRatio = 0.02, slackS = 0.15): number {
  return durationS * (1 + slackRatio) + slackS;
}

/**
 * trafgen's -b rate control is only right over whole seconds (seen here, netsniff-ng 0.6.8: 20 kpps
 * x 19999 packets went out in 0.14 s, 200 kpps x 100000 in 0.63 s, while 1 s and 2 s runs hit
 * their rate within a few %). Sub-second or fractional trials would measure a burst, so refuse them.
 */
export function assertWholeSeconds(durationS: number): void {
  if (!Number.isInteger(durationS) || durationS < 1) {
    throw new RangeError(
      `trafgen trials must last whole seconds (its -b rate control is per second), got ${durationS} s`,
    );
  }
}

export class TrafgenGenerator implements TrafficGenerator {
  readonly directions = 1;
  /** details of the last trial, for warnings (trafgen too slow, cut by the deadline) */
  lastTrial: TrialDetails | null = null;
  private readonly configs = new Map<string, { path: string; config: TrafgenConfig }>();
  private readonly checked = new Set<string>();
  private inFlight: Promise<unknown> | null = null;
  private stopped = false;
  /** <runDir>/trafgen */
  readonly dir: string;
  /** the final stop, started ahead: an interrupt only has to feed it (see stop()) */
  private readonly finalStop: PreparedCommand;

  constructor(
    private readonly exec: RemoteExec,
    private readonly spec: TrafgenSpec,
    private readonly options: TrafgenOptions,
  ) {
    this.dir = `${options.runDir}/trafgen`;
    this.finalStop = prepared(exec, this.stopTrialCommand());
  }

  private stopTrialCommand(): string {
    return withEnv({ LAB_RUN_DIR: this.options.runDir }, "bash -s -- stop-trial");
  }

  private assertRunning(): void {
    if (this.stopped) throw new AbortedError("trafgen stopped");
  }

  private ns(command: string): string {
    return `ip netns exec ${shQuote(this.spec.netns)} ${command}`;
  }

  /** Writes the frame's trafgen config on the TG host once and returns it. */
  async prepare(frame: FrameSize): Promise<{ path: string; config: TrafgenConfig }> {
    this.assertRunning();
    const key = frameLabel(frame);
    const cached = this.configs.get(key);
    if (cached) return cached;
    const config = trafgenConfig(frame, {
      srcMac: this.spec.srcMac,
      dstMac: this.spec.dstMac,
      sources: this.spec.sources,
    });
    const path = `${this.dir}/udp-${key}.cfg`;
    await runChecked(
      this.exec,
      `writing ${path}`,
      `mkdir -p ${shQuote(this.dir)} && cat > ${shQuote(path)}`,
      { stdin: config.text, timeoutMs: 30000 },
    );
    const entry = { path, config };
    this.configs.set(key, entry);
    return entry;
  }

  /**
   * Fails with UnsupportedFrameError when the netns interfaces cannot carry the frame (MTU) or
   * the namespace/interfaces are missing. (What the vswitch's af_packet ports accept is checked by
   * the runner's probe trial.)
   */
  async checkFrame(frame: FrameSize): Promise<void> {
    const { config } = await this.prepare(frame);
    const key = frameLabel(frame);
    if (this.checked.has(key)) return;
    const result = await this.exec.run(
      this.ns(
        `sh -c ${shQuote(`cat /sys/class/net/${this.spec.txIf}/mtu /sys/class/net/${this.spec.rxIf}/mtu`)}`,
      ),
      { timeoutMs: 30000 },
    );
    if (result.code !== 0) {
      throw new Error(
        `${this.exec.name}: cannot read ${this.spec.txIf}/${this.spec.rxIf} in netns ${this.spec.netns} ` +
          `(is tg-netns.sh setup done?): ${result.stderr.trim()}`,
      );
    }
    const [txMtu, rxMtu] = result.stdout.trim().split(/\s+/).map(Number);
    for (const [name, mtu] of [
      [this.spec.txIf, txMtu],
      [this.spec.rxIf, rxMtu],
    ] as const) {
      if (mtu === undefined || !(mtu >= config.requiredMtu)) {
        throw new UnsupportedFrameError(
          frame,
          `${name} has MTU ${mtu}, the frame needs ${config.requiredMtu} (set TG_MTU for tg-netns.sh and the vswitch's max frame)`,
        );
      }
    }
    this.checked.add(key);
  }

  /**
   * The remote shell of one trial (run inside the netns). It lists its own pid, trafgen's (under
   * timeout) and the pacing qdisc in <dir>/trial.pid before it starts anything, and on TERM/INT/HUP
   * stops trafgen and removes the qdisc itself; a trial whose directory was removed (stop() came
   * first) does not start.
   */
  trialScript(path: string, config: TrafgenConfig, pps: number, count: number, deadlineS: number): string {
    const { txIf, rxIf } = this.spec;
    const dir = shQuote(this.dir);
    const pacing = pacingQdisc(txIf, pps, config);
    const read = (label: string): string =>
      `printf 'C ${label} %s %s %s %s %s\\n' "$(cat /sys/class/net/${txIf}/ifindex)" ` +
      `"$(cat /sys/class/net/${txIf}/statistics/tx_packets)" "$(cat /sys/class/net/${rxIf}/ifindex)" ` +
      `"$(cat /sys/class/net/${rxIf}/statistics/rx_packets)" "$(cat /sys/class/net/${txIf}/statistics/tx_dropped)"`;
    const trafgen = [
      "timeout",
      "-s",
      "INT",
      deadlineS.toFixed(3),
      shQuote(this.spec.trafgen),
      "-i",
      shQuote(path),
      "-o",
      txIf,
      "-b",
      `${pps}pps`,
      "-n",
      String(count),
      "-P1", // one sender process (pinned by trafgen to CPU 0)
      "-Q", // leave IRQ affinities alone
      "-q", // through the qdisc, i.e. the pacing tbf (trafgen bypasses qdiscs by default)
      ...(config.jumbo ? ["-J"] : []),
    ].join(" ");
    return [
      "set -u",
      `d=${dir}`,
      'pidf="$d/trial.pid"',
      'st() { local s f; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }; read -r -a f <<<"$s"; printf \'%s\' "${f[19]}"; }',
      'tp=""',
      `stop() { if [ -n "$tp" ]; then kill -TERM "$tp" 2>/dev/null; wait "$tp" 2>/dev/null; fi; tc qdisc del dev ${shQuote(txIf)} root 2>/dev/null; rm -f "$pidf" "$d/trial.out"; exit 143; }`,
      "trap stop TERM INT HUP",
      `printf '%s %s\\nqdisc %s %s\\n' "$$" "$(st $$)" ${shQuote(this.spec.netns)} ${shQuote(txIf)} >"$pidf" 2>/dev/null || { echo "trial: $d is gone (stopped)" >&2; exit 5; }`,
      `${pacing} || { echo "tc could not pace ${txIf} (iproute2 tc with the tbf qdisc is needed)" >&2; rm -f "$pidf"; exit 3; }`,
      read("before"),
      "s=$(date +%s%N)",
      `${trafgen} >"$d/trial.out" 2>&1 &`,
      "tp=$!",
      `printf '%s %s\\n' "$tp" "$(st "$tp")" >>"$pidf"`,
      'wait "$tp"; rc=$?',
      'tp=""',
      "e=$(date +%s%N)",
      `sleep ${this.spec.settleS}`,
      read("after"),
      `tc qdisc del dev ${shQuote(txIf)} root 2>/dev/null`,
      'rm -f "$pidf"',
      'printf "RC %s\\nWALL %s\\n" "$rc" "$(( (e - s) / 1000 ))"',
      // trafgen in a netns cannot tune /proc/sys/net/core (harmless): drop that noise
      `grep -v 'Cannot set system socket memory' "$d/trial.out" | grep -E 'usec on CPU|rror|nvalid|annot' | head -5`,
      'rm -f "$d/trial.out"',
    ].join("\n");
  }

  async runTrial(request: TrialRequest): Promise<TrialCounts> {
    const retries = this.options.retries ?? 1;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.runOnce(request);
      } catch (e) {
        if (!(e instanceof CounterAnomalyError) || attempt >= retries) throw e;
      }
    }
  }

  private async runOnce(request: TrialRequest): Promise<TrialCounts> {
    assertWholeSeconds(request.durationS);
    this.assertRunning();
    const { path, config } = await this.prepare(request.frame);
    this.assertRunning();
    const pps = Math.max(1, Math.round(request.loadPps));
    const count = Math.max(1, Math.round(request.loadPps * request.durationS));
    const deadlineS = trialDeadlineS(request.durationS, this.options.slackRatio, this.options.slackS);
    const script = this.trialScript(path, config, pps, count, deadlineS);
    const trial = runChecked(this.exec, "trafgen trial", this.ns("bash -s"), {
      stdin: script,
      timeoutMs: Math.ceil((deadlineS + this.spec.settleS + 30) * 1000),
    });
    this.inFlight = trial;
    let result;
    try {
      result = await trial;
    } catch (e) {
      // a trial ended by stop() fails (exit 143): that is the stop, not a trafgen error
      throw this.stopped ? new AbortedError("trafgen stopped") : e;
    } finally {
      if (this.inFlight === trial) this.inFlight = null;
    }
    if (this.stopped) throw new AbortedError("trafgen stopped");
    const out = parseTrialOutput(result.stdout);
    // timeout(1) exits 124 when the deadline cut trafgen short: the shortfall shows in the counts.
    if (out.rc !== 0 && out.rc !== 124) {
      throw new Error(
        `trafgen failed (exit ${out.rc}) on ${this.exec.name}: ${result.stdout.trim().split("\n").slice(-3).join(" | ")}`,
      );
    }
    const plausible = count * 2 + 10000;
    const tx = counterDelta(`${this.spec.txIf} tx_packets`, out.before.tx, out.after.tx, plausible);
    const rx = counterDelta(`${this.spec.rxIf} rx_packets`, out.before.rx, out.after.rx, plausible);
    const dropped =
      out.after.txDropped >= out.before.txDropped ? out.after.txDropped - out.before.txDropped : 0n;
    this.lastTrial = {
      wallS: out.wallUs / 1e6,
      trafgenS: out.trafgenS,
      cutByDeadline: out.rc === 124,
      txDropped: Number(dropped),
      counterKinds: [tx.kind, rx.kind].filter((k) => k !== "normal"),
    };
    return { offeredCount: tx.delta, receivedCount: rx.delta };
  }

  /** sched-restore.sh stop-trial: ends a trial listed in trial.pid, removes the qdisc and the files. */
  private async stopTrial(
    via?: PreparedCommand,
  ): Promise<{ stopped: number; qdiscRemoved: boolean; filesRemoved: boolean }> {
    const what = "stopping trafgen (sched-restore.sh stop-trial)";
    const options = { stdin: this.options.cleanupScript, timeoutMs: 15000 };
    const r = via
      ? await via.run(options)
      : await runChecked(this.exec, what, this.stopTrialCommand(), options);
    if (r.code !== 0) throw new RemoteCommandError(this.exec.name, what, r);
    try {
      const j = JSON.parse(r.stdout.trim().split("\n").pop() ?? "") as {
        trial?: { stopped: number; qdiscRemoved: boolean; filesRemoved: boolean };
      };
      return j.trial ?? { stopped: 0, qdiscRemoved: false, filesRemoved: false };
    } catch {
      return { stopped: 0, qdiscRemoved: false, filesRemoved: false };
    }
  }

  /**
   * Start of a run: what a killed run left on the TG host (a trial still sending, its qdisc, the
   * files) goes before the first trial. Returns a note when there was something.
   */
  async clearLeftovers(): Promise<string | null> {
    const t = await this.stopTrial();
    if (t.stopped === 0 && !t.qdiscRemoved && !t.filesRemoved) return null;
    return (
      `a previous run left trafgen state on ${this.exec.name} (${this.dir}): ` +
      `${t.stopped} trial process(es) stopped, qdisc removed: ${t.qdiscRemoved}, files removed: ${t.filesRemoved}`
    );
  }

  /**
   * Ends the generator (also when interrupted): no trial starts any more; a running one is
   * stopped (trafgen, then its pacing qdisc) and <runDir>/trafgen is removed. Throws when the
   * host could not be cleaned (the guard step's sched-restore.sh check/down finishes the job).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    const inFlight = this.inFlight;
    const first = await this.stopTrial(this.finalStop);
    // A trial that was only starting when stop() came (not yet in trial.pid, so not stopped) ends
    // by itself within its deadline, or finds its directory gone; wait for it a little, then clean
    // once more. (A stopped trial needs no second pass: one round trip is all an interrupt has.)
    if (inFlight && first.stopped === 0) {
      await settledWithin(inFlight, 2000);
      await this.stopTrial();
    }
    this.configs.clear();
    this.checked.clear();
  }
}

/**
 * The qdisc that paces a trial. trafgen's `-b <n>pps` is accurate per whole second but sends each
 * second's packets back to back (~0.5 Mpps here) and then sleeps: a DUT with small rings drops
 * such bursts at any average rate. A token bucket at the wanted rate on the TX interface spreads
 * them evenly; trafgen blocks on its socket while the bucket holds back. The kernel counts
 * packets without FCS, hence the mean packet size; the bucket holds two of the largest packets.
 */
export function pacingQdisc(
  txIf: string,
  pps: number,
  config: Pick<TrafgenConfig, "meanPacketBytes" | "maxPacketBytes">,
): string {
  const rateBit = Math.max(8, Math.round(pps * config.meanPacketBytes * 8));
  const burstBytes = Math.max(1600, 2 * config.maxPacketBytes);
  return `tc qdisc replace dev ${shQuote(txIf)} root tbf rate ${rateBit}bit burst ${burstBytes} limit ${PACING_LIMIT_BYTES}`;
}

/** Bytes the pacing qdisc may queue before trafgen blocks. */
const PACING_LIMIT_BYTES = 300000;
