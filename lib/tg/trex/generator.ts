/**
 * TRex behind the project's TrafficGenerator interface, in CSIT's 2-port setup: direction 0 is
 * TG port 0 -> port 1, direction 1 is port 1 -> port 0, both at loadPps for durationS.
 * One trial: clear baselines, start both ports (one batch) with the duration, wait the duration
 * (+ a grace), note whether the ports were still sending (an overloaded TRex stretches a timed
 * run instead of dropping packets: DESIGN.md §7), stop, wait until idle, read the counters.
 */
import type {
  DirectionCounts,
  TrafficGenerator,
  TrialCounts,
  TrialRequest,
} from "../../measure/trafficGenerator";
import type { FrameSize } from "../../measure/units";
import { sleep, type StartRequest, type TrexClient } from "./client";
import { l2xcStreams, TRAFFIC_PROFILE } from "./streams";

export interface TrexGeneratorOptions {
  /** TG ports of direction 0's sender and receiver (default [0, 1]). */
  readonly ports?: readonly [number, number];
  /** Seconds waited beyond the trial duration before stopping (default 0.05). */
  readonly graceS?: number;
  /** Longest wait for the ports to go idle after stop, seconds (default 10). */
  readonly idleTimeoutS?: number;
  /** Take the ports even if another user holds them (default false). */
  readonly forceAcquire?: boolean;
}

export interface TrexTrialDetails {
  /** Seconds from start_traffic to stop_traffic. */
  readonly elapsedS: number;
  /** Seconds the ports took to go idle after stop. */
  readonly idleWaitS: number;
  /** Per port (ports order): was it still sending when the trial's time was up? */
  readonly stillSendingAtStop: readonly boolean[];
  /** True when any port overran the trial time: the TG could not keep the asked rate. */
  readonly overran: boolean;
}

export interface TrexTrialCounts extends TrialCounts {
  readonly perDirection: readonly DirectionCounts[];
  readonly details: TrexTrialDetails;
}

export interface TimedRun {
  readonly starts: readonly StartRequest[];
  readonly durationS: number;
  /** Profiles to stop at the end (default: the traffic profile). */
  readonly profiles?: readonly string[];
  readonly signal?: AbortSignal;
}

/** Thrown (as the abort reason when none is given) when a trial is aborted; traffic was stopped. */
export class TrialAbortedError extends Error {
  constructor() {
    super("TRex trial aborted; traffic stopped");
    this.name = "TrialAbortedError";
  }
}

export class TrexGenerator implements TrafficGenerator {
  readonly directions = 2;
  readonly ports: readonly [number, number];
  private acquired = false;
  private preparedFrame: FrameSize | undefined;

  constructor(
    readonly client: TrexClient,
    private readonly options: TrexGeneratorOptions = {},
  ) {
    this.ports = options.ports ?? [0, 1];
  }

  /** Acquires the ports and clears them (first trial does it if not called). */
  async setup(): Promise<void> {
    await this.client.acquire(this.ports, this.options.forceAcquire ?? false);
    this.acquired = true;
    await this.client.clear(this.ports);
    this.preparedFrame = undefined;
  }

  /** Puts the l2xc streams of `frame` on both ports (skipped when they are there already). */
  async prepare(frame: FrameSize): Promise<void> {
    if (!this.acquired) await this.setup();
    if (this.preparedFrame === frame) return;
    this.preparedFrame = undefined;
    await this.client.removeAllStreams(this.ports, TRAFFIC_PROFILE);
    await this.client.addStreams(this.ports[0], l2xcStreams(frame, 0));
    await this.client.addStreams(this.ports[1], l2xcStreams(frame, 1));
    this.preparedFrame = frame;
  }

  async runTrial(request: TrialRequest, options: { signal?: AbortSignal } = {}): Promise<TrexTrialCounts> {
    await this.prepare(request.frame);
    const starts = this.ports.map((port) => ({ port, pps: request.loadPps, durationS: request.durationS }));
    return this.timedRun({
      starts,
      durationS: request.durationS,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /** One timed run of the given starts; counts per direction from the port counters. */
  async timedRun(run: TimedRun): Promise<TrexTrialCounts> {
    const { client, ports } = this;
    const profiles = run.profiles ?? [TRAFFIC_PROFILE];
    run.signal?.throwIfAborted();
    await client.clearStats(ports);
    const started = Date.now();
    await client.startTraffic(run.starts);
    let stillSending: boolean[];
    try {
      await sleep((run.durationS + (this.options.graceS ?? 0.05)) * 1000, run.signal);
      stillSending = (await client.portStates(ports)).map((s) => s === "TX");
    } catch (err) {
      await this.stopAll(profiles).catch(() => undefined);
      throw run.signal?.aborted ? (run.signal.reason ?? new TrialAbortedError()) : err;
    }
    await this.stopAll(profiles);
    const elapsedS = (Date.now() - started) / 1000;
    const idleWaitS = await client.waitIdle(ports, this.options.idleTimeoutS ?? 10);
    const [a, b] = await client.portStats(ports);
    if (!a || !b) throw new Error("TRex returned no port stats");
    const perDirection: DirectionCounts[] = [
      { txPort: ports[0], rxPort: ports[1], offeredCount: a.opackets, receivedCount: b.ipackets },
      { txPort: ports[1], rxPort: ports[0], offeredCount: b.opackets, receivedCount: a.ipackets },
    ];
    return {
      offeredCount: a.opackets + b.opackets,
      receivedCount: a.ipackets + b.ipackets,
      perDirection,
      details: { elapsedS, idleWaitS, stillSendingAtStop: stillSending, overran: stillSending.some(Boolean) },
    };
  }

  /** Stops and releases the ports. */
  async close(): Promise<void> {
    if (this.acquired) await this.client.reset(this.ports);
    this.acquired = false;
    this.preparedFrame = undefined;
  }

  private async stopAll(profiles: readonly string[]): Promise<void> {
    for (const profile of profiles) await this.client.stopTraffic(this.ports, profile);
  }
}
