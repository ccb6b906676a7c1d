// A stand-in TRex RPC server for the client's tests: a real ZeroMQ REP socket on 127.0.0.1
// speaking the subset of TRex's JSON-RPC (trex-core doc/trex_rpc_server_spec.asciidoc) the client
// uses, with the server's checks (api_h on every call but ping/get_version/api_sync_v2, the
// acquire handler on port calls, parameter types) and its error objects {code, message,
// specific_err}. Packet counts come from a SimulatedDevice per direction. Plain or zlib-framed
// requests; replies framed like the request (the real server's way) unless told otherwise; a slow
// mode where timed runs take longer than asked (an overloaded TRex); reply delays for timeouts.
import * as zmq from "zeromq";
import { decodeMessage, encodeMessage } from "../../lib/tg/trex/framing";
import { SimulatedDevice } from "../../lib/measure/simulatedDevice";
import { RpcFault, StandInPort, type PgCounters } from "./trexStandInPort";
import { handleMethod } from "./trexStandInMethods";

export interface StandInOptions {
  /** TCP port; 0 (default) = ephemeral. */
  readonly port?: number;
  readonly version?: string;
  /** Device capacity per direction, pps ([dir 0, dir 1]; default: no loss). */
  readonly capacityPps?: readonly [number, number];
}

export interface RecordedRequest {
  readonly method: string;
  readonly params: Record<string, unknown>;
  readonly id: unknown;
  readonly compressed: boolean;
  readonly batch: boolean;
}

export interface TrexStandIn {
  readonly endpoint: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  readonly ports: readonly [StandInPort, StandInPort];
  /** Reply framing: "mirror" the request (default), or force one way. */
  replyFraming: "mirror" | "zlib" | "plain";
  /** Real seconds per nominal second of a timed run (1 = keeps up). */
  slowFactor: number;
  /** Delay before answering a message whose first method is named here, ms. */
  readonly delays: Map<string, number>;
  /** Answer the next call of a method with this error instead. */
  readonly faults: Map<string, RpcFault>;
  readonly apiH: string;
  close(): Promise<void>;
}

export interface StandInState {
  readonly version: string;
  readonly apiH: string;
  readonly ports: readonly [StandInPort, StandInPort];
  readonly pgStats: Map<number, PgCounters>;
  readonly slowFactor: () => number;
}

const randomToken = (): string => Math.random().toString(36).slice(2, 10).padEnd(8, "x");
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function device(capacityPps: number, seed: number): SimulatedDevice {
  return new SimulatedDevice(
    { name: "stand-in", capacityPps, noiseStdev: 0, burstsPerSecond: 0, burstStallMs: 0, directions: 1 },
    seed,
  );
}

export async function startTrexStandIn(options: StandInOptions = {}): Promise<TrexStandIn> {
  const socket = new zmq.Reply({ linger: 0 });
  await socket.bind(`tcp://127.0.0.1:${options.port ?? 0}`);
  const endpoint = socket.lastEndpoint ?? "";
  const port = Number(/:(\d+)$/.exec(endpoint)?.[1]);
  const pgStats = new Map<number, PgCounters>();
  const capacity = options.capacityPps ?? [1e12, 1e12];
  const ports: StandInPort[] = [];
  for (const i of [0, 1] as const) {
    ports.push(
      new StandInPort(i, device(capacity[i], 7 + i), () => ports[1 - i] as StandInPort, pgStats, capacity[i]),
    );
  }
  const standIn: TrexStandIn = {
    endpoint,
    port,
    requests: [],
    ports: ports as unknown as [StandInPort, StandInPort],
    replyFraming: "mirror",
    slowFactor: 1,
    delays: new Map(),
    faults: new Map(),
    apiH: randomToken(),
    close: async () => {
      socket.close();
      await done.catch(() => undefined);
    },
  };
  const state: StandInState = {
    version: options.version ?? "v3.08",
    apiH: standIn.apiH,
    ports: standIn.ports,
    pgStats,
    slowFactor: () => standIn.slowFactor,
  };

  function answer(request: unknown, compressed: boolean, batch: boolean): Record<string, unknown> {
    const r = (request ?? {}) as { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown };
    const id = r.id ?? null;
    const fail = (f: RpcFault): Record<string, unknown> => ({
      jsonrpc: "2.0",
      id,
      error: { code: f.code, message: f.serverMessage, ...(f.specific ? { specific_err: f.specific } : {}) },
    });
    if (r.jsonrpc !== "2.0") return fail(new RpcFault(-32600, "Invalid JSONRPC Version"));
    if (typeof r.method !== "string" || r.method === "")
      return fail(new RpcFault(-32600, "Missing Method Name"));
    const params = (r.params && typeof r.params === "object" ? r.params : {}) as Record<string, unknown>;
    standIn.requests.push({ method: r.method, params, id, compressed, batch });
    const fault = standIn.faults.get(r.method);
    if (fault) {
      standIn.faults.delete(r.method);
      return fail(fault);
    }
    try {
      return { jsonrpc: "2.0", id, result: handleMethod(state, r.method, params) };
    } catch (err) {
      if (err instanceof RpcFault) return fail(err);
      return fail(new RpcFault(-32603, "Internal Server Error", String(err)));
    }
  }

  const done = (async () => {
    for await (const [message] of socket) {
      let compressed = false;
      let reply: unknown;
      try {
        const decoded = decodeMessage(message as Buffer);
        compressed = decoded.compressed;
        const parsed: unknown = JSON.parse(decoded.text);
        const first = Array.isArray(parsed) ? parsed[0] : parsed;
        const delay = standIn.delays.get(String((first as { method?: unknown })?.method));
        if (delay) await sleep(delay);
        reply = Array.isArray(parsed)
          ? parsed.map((p) => answer(p, compressed, true))
          : answer(parsed, compressed, false);
      } catch {
        reply = { jsonrpc: "2.0", id: null, error: { code: -32700, message: "Bad JSON Format" } };
      }
      const zlib = standIn.replyFraming === "zlib" || (standIn.replyFraming === "mirror" && compressed);
      if (socket.closed) break;
      await socket.send(encodeMessage(JSON.stringify(reply) + "\n", zlib));
    }
  })();
  return standIn;
}
