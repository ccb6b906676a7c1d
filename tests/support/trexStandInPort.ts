// One simulated TRex port for the stand-in RPC server (trexStandIn.ts): ownership, profiles of
// streams, timed runs whose counts come from a SimulatedDevice per direction, cumulative counters.
import { SimulatedDevice } from "../../lib/measure/simulatedDevice";

/** An error the stand-in answers with, as the real server does (code, message, specific_err). */
export class RpcFault extends Error {
  constructor(
    readonly code: number,
    readonly serverMessage: string,
    readonly specific?: string,
  ) {
    super(specific ?? serverMessage);
  }
}
export const badParams = (specific: string): RpcFault =>
  new RpcFault(-32602, "Bad paramters for method", specific);
export const execError = (specific: string): RpcFault =>
  new RpcFault(-32000, "Failed To Execute Method", specific);

export interface StandInStream {
  readonly packetBytes: number;
  readonly weight: number;
  readonly pgId?: number;
}

interface Run {
  readonly startMs: number;
  readonly pps: number;
  /** -1 = until stopped. */
  readonly durationS: number;
  /** Real seconds per nominal second (1 = keeps up; 2.5 = an overloaded TG). */
  readonly slowFactor: number;
  /** Highest total rate of the port while this run sent (profiles running side by side). */
  peakPortPps: number;
}

interface Profile {
  readonly streams: Map<number, StandInStream>;
  run?: Run;
}

export interface PgCounters {
  tx: number;
  rx: number;
  txPort: number;
  rxPort: number;
  loadRatio: number;
}

export class StandInPort {
  owner: { user: string; handler: string } | undefined;
  readonly counters = { opackets: 1000, ipackets: 2000, obytes: 64000, ibytes: 128000 };
  readonly profiles = new Map<string, Profile>();
  /** Counts per packet group id (latency streams), shared by the server's ports. */
  constructor(
    readonly id: number,
    private readonly device: SimulatedDevice,
    private readonly peer: () => StandInPort,
    private readonly pgStats: Map<number, PgCounters>,
    private readonly capacityPps: number,
  ) {}

  profile(id: string): Profile {
    let p = this.profiles.get(id);
    if (!p) this.profiles.set(id, (p = { streams: new Map() }));
    return p;
  }

  /** Ends runs whose time is up; the port's state string as get_port_status reports it. */
  state(now = Date.now()): string {
    for (const [id, p] of this.profiles) {
      if (p.run && p.run.durationS >= 0 && now - p.run.startMs >= p.run.durationS * p.run.slowFactor * 1000) {
        this.finish(id, now);
      }
    }
    const all = [...this.profiles.values()];
    if (all.some((p) => p.run)) return "TX";
    return all.some((p) => p.streams.size > 0) ? "STREAMS" : "IDLE";
  }

  profileState(id: string): string {
    this.state();
    const p = this.profiles.get(id);
    return p?.run ? "TX" : p && p.streams.size > 0 ? "STREAMS" : "IDLE";
  }

  addStream(profileId: string, streamId: number, stream: StandInStream): void {
    const p = this.profile(profileId);
    if (this.profileState(profileId) === "TX")
      throw execError(`cannot add streams to active profile ${profileId}`);
    if (p.streams.has(streamId))
      throw execError(`stream ${streamId} already exists in profile_id(${profileId})`);
    p.streams.set(streamId, stream);
    if (stream.pgId !== undefined) {
      // A (re-)added packet group starts its statistics anew.
      this.pgStats.set(stream.pgId, { tx: 0, rx: 0, txPort: this.id, rxPort: this.peer().id, loadRatio: 0 });
    }
  }

  removeAll(profileId: string): void {
    if (this.profileState(profileId) === "TX")
      throw execError(`cannot remove streams from active profile ${profileId}`);
    this.profiles.get(profileId)?.streams.clear();
  }

  start(profileId: string, pps: number, durationS: number, force: boolean, slowFactor: number): void {
    const p = this.profiles.get(profileId);
    if (!p || p.streams.size === 0) throw execError(`profile ${profileId} has no streams`);
    if (this.profileState(profileId) === "TX") {
      if (!force) throw execError(`port ${this.id} profile ${profileId} is active`);
      this.finish(profileId, Date.now());
    }
    p.run = { startMs: Date.now(), pps, durationS, slowFactor, peakPortPps: 0 };
    const total = this.totalPps();
    for (const other of this.profiles.values()) {
      if (other.run) other.run.peakPortPps = Math.max(other.run.peakPortPps, total);
    }
  }

  stop(profileId: string): void {
    this.state();
    if (this.profiles.get(profileId)?.run) this.finish(profileId, Date.now());
  }

  /** Rate of everything this port sends now (for loss and latency of concurrent profiles). */
  private totalPps(): number {
    return [...this.profiles.values()].reduce((a, p) => a + (p.run?.pps ?? 0), 0);
  }

  private finish(profileId: string, now: number): void {
    const p = this.profiles.get(profileId);
    const run = p?.run;
    if (!p || !run) return;
    const nominalS = Math.min(
      (now - run.startMs) / 1000 / run.slowFactor,
      run.durationS >= 0 ? run.durationS : Infinity,
    );
    const portPps = run.peakPortPps;
    p.run = undefined;
    const sent = Math.round(run.pps * nominalS);
    if (sent <= 0) return;
    // The device sees the port's whole load; this run's share of what it lets through.
    const sim = this.device.simulate({ loadPps: portPps, durationS: Math.max(nominalS, 1e-3), frame: 64 });
    const passRatio = sim.offeredCount > 0 ? sim.receivedCount / sim.offeredCount : 1;
    const received = Math.min(sent, Math.round(sent * passRatio));
    const streams = [...p.streams.values()];
    const weights = streams.reduce((a, s) => a + s.weight, 0);
    const meanBytes = streams.reduce((a, s) => a + (s.packetBytes + 4) * s.weight, 0) / weights;
    this.counters.opackets += sent;
    this.counters.obytes += Math.round(sent * meanBytes);
    const rx = this.peer().counters;
    rx.ipackets += received;
    rx.ibytes += Math.round(received * meanBytes);
    for (const s of streams) {
      const pg = s.pgId !== undefined ? this.pgStats.get(s.pgId) : undefined;
      if (!pg) continue;
      pg.tx += Math.round((sent * s.weight) / weights);
      pg.rx += Math.round((received * s.weight) / weights);
      pg.loadRatio = portPps / this.capacityPps;
    }
  }
}
