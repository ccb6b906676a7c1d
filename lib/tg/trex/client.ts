/**
 * A TRex stateless (STL) client over the JSON-RPC channel, written from
 * trex-core doc/trex_rpc_server_spec.asciidoc (sections named at each method) and the server
 * behaviour recorded in DESIGN.md §7. Counters on the server are cumulative: the client keeps a
 * baseline per port (clearStats) and reports the difference.
 */
import { TrexRpc, type Params, type RpcCall, type TrexRpcOptions } from "./rpc";
import { TRAFFIC_PROFILE, type StreamSpec } from "./streams";
import { parseLatency, type LatencyStats } from "./latencyStats";

export type { LatencyStats } from "./latencyStats";

/** The STL API class and version current servers expect in api_sync_v2 (seen on v3.08). */
export const STL_API = { name: "STL", major: 5, minor: 1 } as const;

export interface TrexClientOptions extends TrexRpcOptions {
  /** Owner name given to acquire. */
  readonly user?: string;
  /** Session id given to acquire (current servers require one; default: random). */
  readonly sessionId?: number;
  /** Oldest server accepted, [major, minor] of get_version's "vX.YY" (default 3.0). */
  readonly minServerVersion?: readonly [number, number];
}

export interface PortCounters {
  readonly opackets: number;
  readonly ipackets: number;
  readonly obytes: number;
  readonly ibytes: number;
}

export interface StartRequest {
  readonly port: number;
  /** Total rate of the port's profile, packets per second (mul {type: "pps", op: "abs"}). */
  readonly pps: number;
  /** Seconds; omitted = until stopped (-1). */
  readonly durationS?: number;
  readonly profileId?: string;
  readonly force?: boolean;
}

/** Port states in which the port sends (get_port_status "state"). */
const SENDING_STATES = new Set(["TX", "PAUSE"]);
const COUNTER_KEYS = ["opackets", "ipackets", "obytes", "ibytes"] as const;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }
    function onAbort(): void {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
export { sleep };

export class TrexClient {
  readonly rpc: TrexRpc;
  serverVersion: string | undefined;
  private readonly handlers = new Map<number, string>();
  private readonly baselines = new Map<number, PortCounters>();
  private readonly user: string;
  private readonly sessionId: number;

  constructor(private readonly options: TrexClientOptions) {
    this.rpc = new TrexRpc(options);
    this.user = options.user ?? "vhost-perf-lab";
    this.sessionId = options.sessionId ?? Math.floor(Math.random() * 0xffffffff);
  }

  /** get_version ("Get Version"), checked against minServerVersion, then api_sync_v2. */
  async connect(): Promise<{ version: string; apiH: string }> {
    const info = (await this.rpc.call("get_version")) as { version?: unknown };
    const version = String(info?.version ?? "");
    const match = /^v?(\d+)\.(\d+)/.exec(version);
    const [minMajor, minMinor] = this.options.minServerVersion ?? [3, 0];
    if (
      !match ||
      Number(match[1]) < minMajor ||
      (Number(match[1]) === minMajor && Number(match[2]) < minMinor)
    ) {
      throw new Error(
        `TRex server version "${version}" is not supported (need v${minMajor}.${minMinor} or later)`,
      );
    }
    this.serverVersion = version;
    // "API Synchronization": the returned api_h goes into every later call.
    const sync = (await this.rpc.call("api_sync_v2", { ...STL_API })) as { api_h?: unknown };
    if (typeof sync?.api_h !== "string") throw new Error("TRex api_sync_v2 returned no api_h");
    this.rpc.apiH = sync.api_h;
    return { version, apiH: sync.api_h };
  }

  close(): void {
    this.rpc.close();
  }

  handlerOf(port: number): string {
    const handler = this.handlers.get(port);
    if (handler === undefined) throw new Error(`TRex port ${port} is not acquired by this client`);
    return handler;
  }

  /** "Acquire": take the ports (force takes them from another owner). */
  async acquire(ports: readonly number[], force = false): Promise<void> {
    const calls = ports.map((port) => ({
      method: "acquire",
      params: { port_id: port, user: this.user, session_id: this.sessionId, force },
    }));
    const handlers = await this.rpc.batch(calls);
    ports.forEach((port, i) => this.handlers.set(port, String(handlers[i])));
  }

  /** "Release". */
  async release(ports: readonly number[]): Promise<void> {
    await this.portBatch("release", ports);
    for (const port of ports) this.handlers.delete(port);
  }

  /** Stops every profile of the ports and removes all their streams (ports stay acquired). */
  async clear(ports: readonly number[]): Promise<void> {
    const lists = await this.portBatch("get_profile_list", ports, { profile_id: "*" });
    const calls: RpcCall[] = [];
    ports.forEach((port, i) => {
      const profiles = Array.isArray(lists[i]) ? (lists[i] as unknown[]).map(String) : [TRAFFIC_PROFILE];
      for (const profile of profiles) {
        calls.push(this.portCall("stop_traffic", port, { profile_id: profile }));
        calls.push(this.portCall("remove_all_streams", port, { profile_id: profile }));
      }
    });
    await this.rpc.batch(calls);
  }

  /** Stop, remove all streams, release (the Logout flow of the spec). */
  async reset(ports: readonly number[]): Promise<void> {
    await this.clear(ports);
    await this.release(ports);
  }

  /** "Add Stream", one batch for all of a port's streams. */
  async addStreams(port: number, streams: readonly StreamSpec[]): Promise<void> {
    await this.rpc.batch(
      streams.map((s) =>
        this.portCall("add_stream", port, {
          profile_id: s.profileId,
          stream_id: s.streamId,
          stream: s.stream,
        }),
      ),
    );
  }

  async removeAllStreams(ports: readonly number[], profileId = TRAFFIC_PROFILE): Promise<void> {
    await this.portBatch("remove_all_streams", ports, { profile_id: profileId });
  }

  /** "Start Traffic" on several ports in one message, so they start together. */
  async startTraffic(starts: readonly StartRequest[]): Promise<void> {
    await this.rpc.batch(
      starts.map((s) =>
        this.portCall("start_traffic", s.port, {
          profile_id: s.profileId ?? TRAFFIC_PROFILE,
          mul: { type: "pps", op: "abs", value: s.pps },
          duration: s.durationS ?? -1,
          force: s.force ?? false,
        }),
      ),
    );
  }

  /** "Stop Traffic". */
  async stopTraffic(ports: readonly number[], profileId = TRAFFIC_PROFILE): Promise<void> {
    await this.portBatch("stop_traffic", ports, { profile_id: profileId });
  }

  /** "Get Port Status": IDLE, STREAMS, TX, PAUSE, DOWN... */
  async portStates(ports: readonly number[]): Promise<string[]> {
    const replies = await this.rpc.batch(
      ports.map((port) => ({ method: "get_port_status", params: { port_id: port } })),
    );
    return replies.map((r) => String((r as { state?: unknown })?.state ?? ""));
  }

  /** Polls until no port sends; resolves to the seconds it took, rejects after timeoutS. */
  async waitIdle(
    ports: readonly number[],
    timeoutS = 10,
    pollMs = 50,
    signal?: AbortSignal,
  ): Promise<number> {
    const started = Date.now();
    for (;;) {
      const states = await this.portStates(ports);
      if (!states.some((s) => SENDING_STATES.has(s))) return (Date.now() - started) / 1000;
      if (Date.now() - started > timeoutS * 1000) {
        throw new Error(
          `TRex ports ${ports.join(",")} still sending after ${timeoutS} s (states ${states.join(",")})`,
        );
      }
      await sleep(pollMs, signal);
    }
  }

  /** Cumulative counters as the server has them ("Get Port Stats"). */
  async rawPortStats(ports: readonly number[]): Promise<PortCounters[]> {
    const replies = await this.rpc.batch(
      ports.map((port) => ({ method: "get_port_stats", params: { port_id: port } })),
    );
    return replies.map((reply, i) => {
      const r = (reply ?? {}) as Record<string, unknown>;
      const counters = Object.fromEntries(
        COUNTER_KEYS.map((k) => [k, Number(r[k])]),
      ) as unknown as PortCounters;
      if (COUNTER_KEYS.some((k) => !Number.isFinite(counters[k]))) {
        throw new Error(`TRex get_port_stats for port ${ports[i]} lacks counters: ${JSON.stringify(reply)}`);
      }
      return counters;
    });
  }

  /** Takes the current counters as the ports' new zero (TRex has no server-side clear). */
  async clearStats(ports: readonly number[]): Promise<void> {
    const raw = await this.rawPortStats(ports);
    ports.forEach((port, i) => this.baselines.set(port, raw[i] as PortCounters));
  }

  /** Counters since the last clearStats. */
  async portStats(ports: readonly number[]): Promise<PortCounters[]> {
    const raw = await this.rawPortStats(ports);
    return raw.map((now, i) => {
      const base = this.baselines.get(ports[i] as number);
      if (!base) return now;
      return Object.fromEntries(COUNTER_KEYS.map((k) => [k, now[k] - base[k]])) as unknown as PortCounters;
    });
  }

  /** Latency of packet groups (get_pgid_stats; pg ids of latency streams). */
  async latencyStats(pgIds: readonly number[]): Promise<Map<number, LatencyStats>> {
    const reply = (await this.rpc.call("get_pgid_stats", { pgids: [...pgIds] })) as Record<string, unknown>;
    return parseLatency(reply, pgIds);
  }

  private portCall(method: string, port: number, extra: Params = {}): RpcCall {
    return { method, params: { handler: this.handlerOf(port), port_id: port, ...extra } };
  }

  private portBatch(method: string, ports: readonly number[], extra: Params = {}): Promise<unknown[]> {
    return this.rpc.batch(ports.map((port) => this.portCall(method, port, extra)));
  }
}
