/**
 * TRex (lab TG server) as the runner's TgSession: the stateless client of lib/tg/trex over the
 * server's JSON-RPC port, both directions at once in CSIT's l2xc profile, latency after NDR/PDR.
 */
import type { TrialRequest } from "../../measure/trafficGenerator";
import type { FrameSize } from "../../measure/units";
import { TrexClient } from "../../tg/trex/client";
import { TrexGenerator, type TrexTrialCounts } from "../../tg/trex/generator";
import { measureLatencyAtPdr } from "../../tg/trex/latency";
import type { TrexSpec } from "../plan";
import type { LatencyLevelReport, LatencyRequest, TgSession } from "./session";

export const OVERRAN_NOTE =
  "TRex was still sending when the trial time was up (the TG could not keep the asked rate: the load is not what was asked)";

export class TrexSession implements TgSession {
  readonly kind = "trex" as const;
  readonly directions = 2 as const;
  readonly note: string;
  readonly hints = {
    nothingSent: "trex sent nothing (are the TG ports up and linked?)",
    stopFailed:
      "TRex stop failed (its ports may still be held or sending; the next run takes them over with tg.forceAcquire)",
  };
  private last: TrexTrialCounts | null = null;
  private inFlight: Promise<unknown> | null = null;
  private readonly stopping = new AbortController();
  private stopped = false;

  private constructor(
    private readonly client: TrexClient,
    private readonly generator: TrexGenerator,
    spec: TrexSpec,
    version: string,
  ) {
    const [p0, p1] = spec.ports;
    this.note =
      `TRex ${version} on ${spec.host} (RPC ${spec.rpcHost}:${spec.rpcPort}): ports ${p0} -> DUT -> ${p1} and back at once, ` +
      "CSIT's l2xc streams (254 sources per direction), each at the per-direction load; rates are the aggregate of both as CSIT reports them, per direction in each trial";
  }

  /** Connects (version check, API sync), takes the ports and clears them. */
  static async open(spec: TrexSpec, user = "vhost-perf-lab"): Promise<TrexSession> {
    const client = new TrexClient({
      host: spec.rpcHost,
      port: spec.rpcPort,
      timeoutMs: spec.timeoutMs,
      user,
    });
    try {
      const { version } = await client.connect();
      const generator = new TrexGenerator(client, { ports: spec.ports, forceAcquire: spec.forceAcquire });
      return new TrexSession(client, generator, spec, version);
    } catch (e) {
      client.close();
      throw new Error(
        `TRex at ${spec.rpcHost}:${spec.rpcPort} (tg.rpcHost/rpcPort): ${(e as Error).message}; is the TRex server step up and its RPC port reachable from here?`,
      );
    }
  }

  async checkFrame(frame: FrameSize): Promise<void> {
    // TRex takes every CSIT frame; streams that the server refuses fail here, before the cell
    await this.generator.prepare(frame);
  }

  async clearLeftovers(): Promise<string | null> {
    await this.generator.setup();
    const ports = this.generator.ports;
    const states = await this.client.portStates(ports);
    if (!states.some((s) => s === "TX")) return null;
    await this.client.stopTraffic(ports);
    return `TRex ports ${ports.join(", ")} were still sending (a killed run's trial): stopped`;
  }

  async runTrial(request: TrialRequest): Promise<TrexTrialCounts> {
    if (this.stopped) throw new Error("TRex session stopped");
    const run = this.generator.runTrial(request, { signal: this.stopping.signal });
    this.inFlight = run;
    try {
      this.last = await run;
      return this.last;
    } finally {
      this.inFlight = null;
    }
  }

  trialNotes(): string[] {
    return this.last?.details.overran ? [OVERRAN_NOTE] : [];
  }

  async measureLatency(
    pdrPerDirectionPps: number,
    frame: FrameSize,
    options: LatencyRequest,
  ): Promise<LatencyLevelReport[]> {
    const levels = await measureLatencyAtPdr(this.generator, {
      pdrPps: pdrPerDirectionPps,
      frame,
      durationS: options.durationS,
      fractions: options.fractions,
      latencyPps: options.streamPps,
      signal: options.signal ?? this.stopping.signal,
    });
    return levels.map((l) => ({
      label: `PDR${Math.round(l.fraction * 100)}`,
      fraction: l.fraction,
      loadPps: l.loadPps,
      directions: l.perDirection.map((d) => ({
        direction: d.direction,
        txPort: d.txPort,
        rxPort: d.rxPort,
        minUs: d.minUs,
        avgUs: d.avgUs,
        maxUs: d.maxUs,
        ...(d.hdrh !== undefined ? { hdrh: d.hdrh } : {}),
      })),
      offered: l.counts.offeredCount,
      received: l.counts.receivedCount,
    }));
  }

  /** Stops a running trial (its traffic is stopped), resets and releases the ports, disconnects. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopping.abort(new Error("TRex session stopped"));
    await this.inFlight?.catch(() => undefined);
    try {
      await this.generator.close();
    } finally {
      this.client.close();
    }
  }
}
