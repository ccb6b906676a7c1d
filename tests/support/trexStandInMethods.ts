// The RPC methods of the stand-in TRex server (trexStandIn.ts), with the parameter checks of the
// real server's handlers: names, types and the errors they raise.
import { RpcFault, badParams, execError, type StandInPort } from "./trexStandInPort";
import type { StandInState } from "./trexStandIn";

type P = Record<string, unknown>;

const NO_API_H = new Set(["ping", "get_version", "api_sync_v2"]);
const VM_TYPES = new Set([
  "fix_checksum_ipv4",
  "flow_var",
  "write_flow_var",
  "fix_checksum_hw",
  "tuple_flow_var",
]);
const MUL_TYPES = new Set(["raw", "bps", "bps_L1", "bps_L2", "pps", "percentage"]);

function need<T>(params: P, key: string, type: "string" | "number" | "boolean" | "object"): T {
  const value = params[key];
  if (value === undefined) throw badParams(`field '${key}' is missing`);
  if (typeof value !== type || value === null) throw badParams(`field '${key}' should be of type ${type}`);
  return value as T;
}

function uint(params: P, key: string): number {
  const value = need<number>(params, key, "number");
  if (!Number.isInteger(value) || value < 0) throw badParams(`field '${key}' should be an unsigned integer`);
  return value;
}

function portOf(state: StandInState, params: P): StandInPort {
  const id = uint(params, "port_id");
  const port = state.ports[id];
  if (!port) throw badParams(`invalid port id - should be between 0 and ${state.ports.length - 1}`);
  return port;
}

/** Port calls of an owner: the acquire handler must match. */
function owned(state: StandInState, params: P): StandInPort {
  const port = portOf(state, params);
  const handler = params["handler"];
  if (!port.owner || handler !== port.owner.handler) {
    throw execError("port is not owned by you or your current executing session");
  }
  return port;
}

const profileOf = (params: P): string =>
  typeof params["profile_id"] === "string" ? params["profile_id"] : "_";

function checkStream(stream: P): { packetBytes: number; pgId?: number } {
  for (const key of ["enabled", "self_start"]) need(stream, key, "boolean");
  for (const key of ["flags", "action_count", "isg", "next_stream_id"]) need(stream, key, "number");
  const mode = need<P>(stream, "mode", "object");
  const type = need<string>(mode, "type", "string");
  if (type !== "continuous")
    throw badParams(`bad stream type provided: '${type}' (stand-in: continuous only)`);
  const rate = need<P>(mode, "rate", "object");
  if (!["pps", "bps_L1", "bps_L2", "percentage"].includes(need<string>(rate, "type", "string"))) {
    throw badParams(`field 'type' has an invalid value: '${String(rate["type"])}'`);
  }
  if (!(need<number>(rate, "value", "number") >= 0)) throw badParams("rate value must be >= 0");
  const packet = need<P>(stream, "packet", "object");
  const binary = Buffer.from(need<string>(packet, "binary", "string"), "base64");
  need(packet, "meta", "string");
  if (binary.length < 14 || binary.length > 9216) {
    throw execError(`Bad packet size provided: ${binary.length}. Should be between 14 and 9216`);
  }
  const vm = need<P>(stream, "vm", "object");
  const instructions = vm["instructions"];
  if (!Array.isArray(instructions)) throw badParams("field 'instructions' should be of type array");
  for (const inst of instructions as P[]) {
    const t = need<string>(inst, "type", "string");
    if (!VM_TYPES.has(t)) throw badParams(`field 'type' has an invalid value: '${t}'`);
    if (t === "flow_var") {
      for (const k of ["init_value", "min_value", "max_value", "step"]) uint(inst, k);
      if (![1, 2, 4, 8].includes(need<number>(inst, "size", "number")))
        throw badParams("flow var size must be 1, 2, 4 or 8");
      if (!["inc", "dec", "random"].includes(need<string>(inst, "op", "string")))
        throw badParams("bad flow var op");
      if ((inst["max_value"] as number) < (inst["min_value"] as number))
        throw badParams("VM: max value is smaller than min value");
    } else if (t === "write_flow_var") {
      need(inst, "name", "string");
      need(inst, "add_value", "number");
      need(inst, "is_big_endian", "boolean");
      if (uint(inst, "pkt_offset") + 4 > binary.length)
        throw execError("write_flow_var writes beyond the packet");
    } else if (t === "fix_checksum_ipv4") {
      if (uint(inst, "pkt_offset") + 20 > binary.length)
        throw execError("fix_checksum_ipv4 beyond the packet");
    }
  }
  const flow = need<P>(stream, "flow_stats", "object");
  if (!need<boolean>(flow, "enabled", "boolean")) return { packetBytes: binary.length };
  const pgId = uint(flow, "stream_id");
  need(flow, "rule_type", "string");
  return { packetBytes: binary.length, pgId };
}

function pgidStats(state: StandInState, params: P): unknown {
  const pgids = params["pgids"];
  if (!Array.isArray(pgids)) throw badParams("field 'pgids' should be of type array");
  const flow: P = {};
  const latency: P = {};
  for (const id of pgids as number[]) {
    const pg = state.pgStats.get(id);
    if (!pg) continue;
    flow[String(id)] = { tp: { [pg.txPort]: pg.tx }, rp: { [pg.rxPort]: pg.rx } };
    const avg = 5 + 40 * pg.loadRatio;
    latency[String(id)] = {
      lat: {
        average: avg,
        total_min: Math.max(1, Math.floor(avg / 2)),
        total_max: Math.ceil(avg * 3),
        jit: 1,
        histogram: { [String(Math.floor(avg / 10) * 10 || 1)]: pg.rx },
        hdrh: `HISTFAAAA${id}standin${Math.round(avg)}`,
      },
      er: { drp: pg.tx - pg.rx, ooo: 0, dup: 0, sth: 0, stl: 0 },
    };
  }
  return { flow_stats: flow, latency, ver_id: {} };
}

export function handleMethod(state: StandInState, method: string, params: P): unknown {
  if (!NO_API_H.has(method) && params["api_h"] !== state.apiH) {
    throw badParams("API handler provided mismatch or missing");
  }
  switch (method) {
    case "ping":
      return {};
    case "get_version":
      return {
        version: state.version,
        build_date: "Dec  4 2026",
        build_time: "00:00:00",
        built_by: "stand-in",
      };
    case "api_sync_v2": {
      const name = need<string>(params, "name", "string");
      const major = uint(params, "major");
      uint(params, "minor");
      if (name !== "STL" || major !== 5)
        throw new RpcFault(-32600, `API version mismatch: server has STL 5.1, client asked ${name} ${major}`);
      return { api_h: state.apiH };
    }
    case "acquire": {
      const port = portOf(state, params);
      const user = need<string>(params, "user", "string");
      const force = need<boolean>(params, "force", "boolean");
      uint(params, "session_id");
      if (port.owner && port.owner.user !== user && !force)
        throw execError(`port is already owned by '${port.owner.user}'`);
      port.owner = { user, handler: Math.random().toString(36).slice(2, 10) };
      return port.owner.handler;
    }
    case "release":
      owned(state, params).owner = undefined;
      return {};
    case "get_port_status": {
      const port = portOf(state, params);
      return { owner: port.owner?.user ?? "", state: port.state(), service: false, attr: {} };
    }
    case "get_port_stats": {
      const port = portOf(state, params);
      port.state();
      return { ...port.counters, ierrors: 0, oerrors: 0, tx_pps: 0, rx_pps: 0 };
    }
    case "get_profile_list":
      return [...owned(state, params).profiles.keys()];
    case "add_stream": {
      const port = owned(state, params);
      const stream = need<P>(params, "stream", "object");
      const { packetBytes, pgId } = checkStream(stream);
      const rate = ((stream["mode"] as P)["rate"] as P)["value"] as number;
      port.addStream(profileOf(params), uint(params, "stream_id"), {
        packetBytes,
        weight: rate,
        ...(pgId !== undefined ? { pgId } : {}),
      });
      return {};
    }
    case "remove_all_streams":
      owned(state, params).removeAll(profileOf(params));
      return {};
    case "start_traffic": {
      const port = owned(state, params);
      const duration = need<number>(params, "duration", "number");
      const force = need<boolean>(params, "force", "boolean");
      const mul = need<P>(params, "mul", "object");
      const type = need<string>(mul, "type", "string");
      if (!MUL_TYPES.has(type)) throw badParams(`field 'type' has an invalid value: '${type}'`);
      if (need<string>(mul, "op", "string") !== "abs")
        throw badParams("start message can only specify absolute speed rate");
      const value = need<number>(mul, "value", "number");
      if (!(value > 0)) throw badParams("multiplier can't be zero");
      if (type !== "pps") throw execError(`stand-in simulates mul type 'pps' only, got '${type}'`);
      port.start(profileOf(params), value, duration, force, state.slowFactor());
      return { multiplier: value, ts: Date.now() / 1000 };
    }
    case "stop_traffic":
      owned(state, params).stop(profileOf(params));
      return {};
    case "get_pgid_stats":
      return pgidStats(state, params);
    default:
      throw new RpcFault(-32601, `Method ${method} not registered`);
  }
}
