/**
 * TrafficGenerator over trafgen (netsniff-ng) in a network namespace, driven through one SSH
 * connection (DESIGN.md §4): trafgen sends on the netns end of one veth pair at a software-limited
 * rate, the vswitch forwards, and what comes back is counted on the netns end of the other pair.
 *
 * One trial is one remote command: read the counters, run trafgen for the trial (bounded by a
 * deadline), wait for packets still in flight, read the counters again. Per direction, offered =
 * tx delta of its sending port, received = rx delta of the other port. With directions = 2 (as
 * CSIT measures) one trafgen per port sends at the same time, port 0 -> port 1 and port 1 -> port 0,
 * each at the per-direction load; the counts are reported per direction and summed.
 *
 * Everything it puts on the TG host lives in <runDir>/trafgen (runDir = /run/vhost-perf-lab/<stack>):
 * the configs, and while a trial runs its pids and the pacing qdisc in trial.pid. stop() ends a
 * running trial and removes the directory (scripts/sched-restore.sh stop-trial, the same code the
 * Benchmark's guard step runs after a runner was killed).
 */
import { UnsupportedFrameError, type TgSession } from "./tg/session";
export { UnsupportedFrameError };
import type { TrialCounts, TrialRequest } from "../measure/trafficGenerator";
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
  txBytes?: bigint;
  rxBytes?: bigint;
}

/** after - before of a byte counter; undefined when either is missing or it went backwards. */
function byteDelta(before?: bigint, after?: bigint): number | undefined {
  return before === undefined || after === undefined || after < before ? undefined : Number(after - before);
}

export interface TrialOutput {
  /** per direction (index = direction) */
  before: Readings[];
  after: Readings[];
  rc: number[];
  wallUs: number;
  /** trafgen's own send time per direction (null if it printed none) */
  trafgenS: (number | null)[];
}

/**
 * Parses the trial script's records: "C <before|after> <direction> <txIfindex> <tx> <rxIfindex>
 * <rx> <txDropped>", "RC <direction> <exit>", "WALL <us>", and trafgen's summary lines prefixed
 * "T <direction>" ("T 0 1 sec, 6858 usec on CPU0 (50000 packets)").
 */
export function parseTrialOutput(stdout: string, directions = 1): TrialOutput {
  const readings = new Map<string, Readings>();
  const rc: number[] = [];
  let wallUs: number | undefined;
  const trafgenS: (number | null)[] = Array.from({ length: directions }, () => null);
  for (const line of stdout.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[0] === "C" && f.length >= 8) {
      readings.set(`${f[1]} ${f[2]}`, {
        tx: { ifindex: Number(f[3]), value: parseCounter(f[4] as string, "tx_packets") },
        rx: { ifindex: Number(f[5]), value: parseCounter(f[6] as string, "rx_packets") },
        txDropped: parseCounter(f[7] as string, "tx_dropped"),
        // bytes (frame sizes as the kernel counts them: without the 4-byte FCS); older records lack them
        ...(f.length >= 10
          ? {
              txBytes: parseCounter(f[8] as string, "tx_bytes"),
              rxBytes: parseCounter(f[9] as string, "rx_bytes"),
            }
          : {}),
      });
    } else if (f[0] === "RC" && f.length >= 3) rc[Number(f[1])] = Number(f[2]);
    else if (f[0] === "WALL") wallUs = Number(f[1]);
    else if (f[0] === "T") {
      // trafgen's summary: "1 sec, 6858 usec on CPU0 (50000 packets)"
      const m = /(\d+) sec, (\d+) usec on CPU/.exec(line);
      const d = Number(f[1]);
      if (m && d >= 0 && d < directions) trafgenS[d] = Number(m[1]) + Number(m[2]) / 1e6;
    }
  }
  const dirs = Array.from({ length: directions }, (_, d) => d);
  const before = dirs.map((d) => readings.get(`before ${d}`));
  const after = dirs.map((d) => readings.get(`after ${d}`));
  if (
    before.some((r) => !r) ||
    after.some((r) => !r) ||
    dirs.some((d) => rc[d] === undefined || Number.isNaN(rc[d])) ||
    wallUs === undefined
  ) {
    throw new Error(`unexpected trial output: ${JSON.stringify(stdout.slice(0, 400))}`);
  }
  return {
    before: before as Readings[],
    after: after as Readings[],
    rc: rc.slice(0, directions),
    wallUs,
    trafgenS,
  };
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

/** One direction of a trial: trafgen sends on `tx`, what comes back is counted on `rx`. */
interface Leg {
  tx: string;
  rx: string;
}

export const TRAFGEN_NOTES = {
  cut: "trafgen was cut by the trial deadline (it could not send the load in time)",
  txDropped: "the TG veth dropped packets on transmit (tx_dropped), not counted as offered",
  wrapped: (kind: string) => `a counter wrapped (${kind}) and was corrected`,
};

export class TrafgenGenerator implements TgSession {
  readonly kind = "trafgen" as const;
  readonly directions: 1 | 2;
  /** details of the last trial, for warnings (trafgen too slow, cut by the deadline) */
  lastTrial: TrialDetails | null = null;
  private readonly configs = new Map<string, { path: string; config: TrafgenConfig }[]>();
  private readonly checked = new Set<string>();
  private inFlight: Promise<unknown> | null = null;
  private stopped = false;
  /** <runDir>/trafgen */
  readonly dir: string;
  /** the final stop, started ahead: an interrupt only has to feed it (see stop()) */
  private readonly finalStop: PreparedCommand;
  /** direction 0: port 0 -> port 1; direction 1: port 1 -> port 0 */
  readonly legs: Leg[];

  constructor(
    private readonly exec: RemoteExec,
    private readonly spec: TrafgenSpec,
    private readonly options: TrafgenOptions,
  ) {
    this.dir = `${options.runDir}/trafgen`;
    this.finalStop = prepared(exec, this.stopTrialCommand());
    this.directions = spec.directions;
    this.legs = [
      { tx: spec.txIf, rx: spec.rxIf },
      { tx: spec.rxIf, rx: spec.txIf },
    ].slice(0, spec.directions);
  }

  private stopTrialCommand(): string {
    return withEnv({ LAB_RUN_DIR: this.options.runDir }, "bash -s -- stop-trial");
  }

  private assertRunning(): void {
    if (this.stopped) throw new AbortedError("trafgen stopped");
  }

  /** The command in the TG's namespace (as is when the session is already there). */
  private ns(command: string): string {
    return this.spec.netns === "" ? command : `ip netns exec ${shQuote(this.spec.netns)} ${command}`;
  }

  /** Writes the frame's trafgen configs (one per direction) on the TG host once. */
  async prepare(frame: FrameSize): Promise<{ path: string; config: TrafgenConfig }[]> {
    this.assertRunning();
    const key = frameLabel(frame);
    const cached = this.configs.get(key);
    if (cached) return cached;
    const entries = this.legs.map((_, d) => {
      const config = trafgenConfig(frame, {
        srcMac: d === 0 ? this.spec.srcMac : this.spec.dstMac,
        dstMac: d === 0 ? this.spec.dstMac : this.spec.srcMac,
        sources: this.spec.sources,
        reverse: d === 1,
      });
      return { path: `${this.dir}/udp-${key}${d === 0 ? "" : `-dir${d}`}.cfg`, config };
    });
    for (const { path, config } of entries) {
      await runChecked(
        this.exec,
        `writing ${path}`,
        `mkdir -p ${shQuote(this.dir)} && cat > ${shQuote(path)}`,
        { stdin: config.text, timeoutMs: 30000 },
      );
    }
    this.configs.set(key, entries);
    return entries;
  }

  /**
   * Fails with UnsupportedFrameError when the TG ports cannot carry the frame (MTU) or they are
   * missing. (What the vswitch's af_packet ports accept is checked by the runner's probe trial.)
   */
  async checkFrame(frame: FrameSize): Promise<void> {
    const [first] = await this.prepare(frame);
    if (!first) throw new Error("trafgen: no direction to send in");
    const { config } = first;
    const key = frameLabel(frame);
    if (this.checked.has(key)) return;
    const where = this.spec.netns === "" ? `on ${this.exec.name}` : `in netns ${this.spec.netns}`;
    const result = await this.exec.run(
      this.ns(
        `sh -c ${shQuote(`cat /sys/class/net/${this.spec.txIf}/mtu /sys/class/net/${this.spec.rxIf}/mtu`)}`,
      ),
      { timeoutMs: 30000 },
    );
    if (result.code !== 0) {
      throw new Error(
        `${this.exec.name}: cannot read ${this.spec.txIf}/${this.spec.rxIf} ${where} ` +
          `(are the TG ports set up?): ${result.stderr.trim()}`,
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
   * The remote shell of one trial (run in the TG's namespace). It lists its own pid, each
   * trafgen's (under timeout) and each pacing qdisc in <dir>/trial.pid before it starts anything,
   * and on TERM/INT/HUP stops the trafgens and removes the qdiscs itself; a trial whose directory
   * was removed (stop() came first) does not start. One trafgen per direction, started together.
   */
  trialScript(
    configs: { path: string; config: TrafgenConfig }[],
    pps: number,
    count: number,
    deadlineS: number,
  ): string {
    const dir = shQuote(this.dir);
    // the namespace of the paced ports, for sched-restore.sh stop-trial (which may run from the
    // DUT's session after a killed run): the session's own, when it is in a named one
    const nsTag = this.spec.netns === "" ? '"${nsn:--}"' : shQuote(this.spec.netns);
    const legs = this.legs.map((leg, d) => ({ ...leg, d, ...(configs[d] as (typeof configs)[0]) }));
    const read = (label: string): string[] =>
      legs.map(
        ({ tx, rx, d }) =>
          `printf 'C ${label} ${d} %s %s %s %s %s %s %s\\n' "$(cat /sys/class/net/${tx}/ifindex)" ` +
          `"$(cat /sys/class/net/${tx}/statistics/tx_packets)" "$(cat /sys/class/net/${rx}/ifindex)" ` +
          `"$(cat /sys/class/net/${rx}/statistics/rx_packets)" "$(cat /sys/class/net/${tx}/statistics/tx_dropped)" ` +
          `"$(cat /sys/class/net/${tx}/statistics/tx_bytes)" "$(cat /sys/class/net/${rx}/statistics/rx_bytes)"`,
      );
    const trafgen = ({ tx, path, config }: (typeof legs)[0]): string =>
      [
        "timeout",
        "-s",
        "INT",
        deadlineS.toFixed(3),
        shQuote(this.spec.trafgen),
        "-i",
        shQuote(path),
        "-o",
        tx,
        "-b",
        `${pps}pps`,
        "-n",
        String(count),
        "-P1", // one sender process per direction (pinned by trafgen to CPU 0)
        "-Q", // leave IRQ affinities alone
        "-q", // through the qdisc, i.e. the pacing tbf (trafgen bypasses qdiscs by default)
        ...(config.jumbo ? ["-J"] : []),
      ].join(" ");
    const delQdiscs = legs.map(({ tx }) => `tc qdisc del dev ${shQuote(tx)} root 2>/dev/null`).join("; ");
    return [
      "set -u",
      `d=${dir}`,
      'pidf="$d/trial.pid"',
      'st() { local s f; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }; read -r -a f <<<"$s"; printf \'%s\' "${f[19]}"; }',
      "tps=()",
      `stop() { local p; for p in "\${tps[@]}"; do kill -TERM "$p" 2>/dev/null; done; wait 2>/dev/null; ${delQdiscs}; rm -f "$pidf" "$d"/trial.out.*; exit 143; }`,
      "trap stop TERM INT HUP",
      `printf '%s %s\\n' "$$" "$(st $$)" >"$pidf" 2>/dev/null || { echo "trial: $d is gone (stopped)" >&2; exit 5; }`,
      ...(this.spec.netns === "" ? ["nsn=$(ip netns identify 2>/dev/null || true)"] : []),
      ...legs.map(({ tx }) => `printf 'qdisc %s %s\\n' ${nsTag} ${shQuote(tx)} >>"$pidf"`),
      ...legs.map(
        ({ tx, config }) =>
          `${pacingQdisc(tx, pps, config)} || { echo "tc could not pace ${tx} (iproute2 tc with the tbf qdisc is needed)" >&2; ${delQdiscs}; rm -f "$pidf"; exit 3; }`,
      ),
      ...read("before"),
      "s=$(date +%s%N)",
      ...legs.flatMap((leg) => [
        `${trafgen(leg)} >"$d/trial.out.${leg.d}" 2>&1 &`,
        "tps+=($!)",
        `printf '%s %s\\n' "$!" "$(st "$!")" >>"$pidf"`,
      ]),
      ...legs.map(({ d }) => `wait "\${tps[${d}]}"; rc${d}=$?`),
      "tps=()",
      "e=$(date +%s%N)",
      `sleep ${this.spec.settleS}`,
      ...read("after"),
      delQdiscs,
      'rm -f "$pidf"',
      ...legs.map(({ d }) => `printf "RC ${d} %s\\n" "$rc${d}"`),
      'printf "WALL %s\\n" "$(( (e - s) / 1000 ))"',
      // trafgen in a netns cannot tune /proc/sys/net/core (harmless): drop that noise
      ...legs.map(
        ({ d }) =>
          `grep -v 'Cannot set system socket memory' "$d/trial.out.${d}" | grep -E 'usec on CPU|rror|nvalid|annot' | head -5 | sed 's/^/T ${d} /'`,
      ),
      'rm -f "$d"/trial.out.*',
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
    const configs = await this.prepare(request.frame);
    this.assertRunning();
    const pps = Math.max(1, Math.round(request.loadPps));
    const count = Math.max(1, Math.round(request.loadPps * request.durationS));
    const deadlineS = trialDeadlineS(request.durationS, this.options.slackRatio, this.options.slackS);
    const script = this.trialScript(configs, pps, count, deadlineS);
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
    const out = parseTrialOutput(result.stdout, this.directions);
    // timeout(1) exits 124 when the deadline cut trafgen short: the shortfall shows in the counts.
    const failed = out.rc.findIndex((rc) => rc !== 0 && rc !== 124);
    if (failed >= 0) {
      throw new Error(
        `trafgen failed (exit ${out.rc[failed]}) on ${this.exec.name} (direction ${failed}): ${result.stdout.trim().split("\n").slice(-3).join(" | ")}`,
      );
    }
    const plausible = count * 2 + 10000;
    const kinds: string[] = [];
    let dropped = 0n;
    const perDirection = this.legs.map((leg, d) => {
      const b = out.before[d] as Readings;
      const a = out.after[d] as Readings;
      const tx = counterDelta(`${leg.tx} tx_packets`, b.tx, a.tx, plausible);
      const rx = counterDelta(`${leg.rx} rx_packets`, b.rx, a.rx, plausible);
      kinds.push(tx.kind, rx.kind);
      dropped += a.txDropped >= b.txDropped ? a.txDropped - b.txDropped : 0n;
      const offeredBytes = byteDelta(b.txBytes, a.txBytes);
      const receivedBytes = byteDelta(b.rxBytes, a.rxBytes);
      return {
        txPort: d,
        rxPort: 1 - d,
        offeredCount: tx.delta,
        receivedCount: rx.delta,
        ...(offeredBytes !== undefined ? { offeredBytes } : {}),
        ...(receivedBytes !== undefined ? { receivedBytes } : {}),
      };
    });
    const times = out.trafgenS.filter((t): t is number => t !== null);
    this.lastTrial = {
      wallS: out.wallUs / 1e6,
      trafgenS: times.length === 0 ? null : Math.max(...times),
      cutByDeadline: out.rc.includes(124),
      txDropped: Number(dropped),
      counterKinds: kinds.filter((k) => k !== "normal"),
    };
    const sum = (k: "offeredCount" | "receivedCount"): number =>
      perDirection.reduce((acc, p) => acc + p[k], 0);
    return {
      offeredCount: sum("offeredCount"),
      receivedCount: sum("receivedCount"),
      ...(this.directions === 2 ? { perDirection } : {}),
    };
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
  /** How this TG sends, for the report. */
  get note(): string {
    const { spec } = this;
    const where = spec.netns === "" ? spec.host : `${spec.host}/${spec.netns}`;
    return this.directions === 2
      ? `both directions at once (${where}: ${spec.txIf} -> DUT -> ${spec.rxIf} and back), each at the ` +
          "per-direction load; rates are the aggregate of both as CSIT reports them, per direction in each trial"
      : `one direction only (${where}: ${spec.txIf} -> vswitch -> ${spec.rxIf}); ` +
          "CSIT reports the aggregate of two directions, so these figures are not comparable 1:1";
  }

  get hints(): { nothingSent: string; stopFailed: string } {
    return {
      nothingSent: "trafgen sent nothing (is the TG netns wired? tg-netns.sh setup)",
      stopFailed: `trafgen cleanup failed (a trial or ${this.dir} may be left; the guard step's sched-restore.sh check/down removes them)`,
    };
  }

  /** The last trial's TG limits, as notes counted per cell. */
  trialNotes(): string[] {
    const d = this.lastTrial;
    if (!d) return [];
    return [
      ...(d.cutByDeadline ? [TRAFGEN_NOTES.cut] : []),
      ...(d.txDropped > 0 ? [TRAFGEN_NOTES.txDropped] : []),
      ...d.counterKinds.map(TRAFGEN_NOTES.wrapped),
    ];
  }

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
