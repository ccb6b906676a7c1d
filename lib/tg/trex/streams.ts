/**
 * CSIT's vhost l2xc traffic profile (trex-stl-ethip4-ip4src254) as TRex stream objects, built
 * here in TypeScript: Ethernet/IPv4 with protocol 61; direction 0 sends from 10.10.10.1..254 to
 * 20.20.20.1, direction 1 from 20.20.20.1..254 to 10.10.10.1. The source address increments per
 * packet through the field engine (flow_var + write_flow_var), which also fixes the IPv4 header
 * checksum (fix_checksum_ipv4). Object layout: trex_rpc_server_spec.asciidoc, "Add Stream"
 * (stream, packet, mode, rate, vm, flow_stats).
 */
import { IMIX_V4_1_MIX, type FrameSize } from "../../measure/units";
import { buildIpv4Packet, ipv4ToInt, IPV4_OFFSET, IPV4_SRC_OFFSET } from "./packets";

export type Direction = 0 | 1;

export type VmInstruction =
  | {
      type: "flow_var";
      name: string;
      size: 1 | 2 | 4 | 8;
      op: "inc" | "dec" | "random";
      init_value: number;
      min_value: number;
      max_value: number;
      step: number;
      split_to_cores: boolean;
    }
  | { type: "write_flow_var"; name: string; pkt_offset: number; add_value: number; is_big_endian: boolean }
  | { type: "fix_checksum_ipv4"; pkt_offset: number };

export type FlowStats = { enabled: false } | { enabled: true; stream_id: number; rule_type: "latency" };

/** The 'stream' object of add_stream. */
export interface TrexStream {
  enabled: boolean;
  self_start: boolean;
  start_paused: boolean;
  isg: number;
  next_stream_id: number;
  action_count: number;
  flags: number;
  core_id: number;
  mode: { type: "continuous"; rate: { type: "pps"; value: number } };
  packet: { binary: string; meta: string };
  vm: { instructions: VmInstruction[]; split_by_var: string };
  flow_stats: FlowStats;
}

/** One stream to add: where it goes (profile) and under which id. */
export interface StreamSpec {
  readonly streamId: number;
  readonly profileId: string;
  readonly stream: TrexStream;
}

/** The default profile, where a trial's traffic lives; latency streams get a profile of their own. */
export const TRAFFIC_PROFILE = "_";
export const LATENCY_PROFILE = "latency";
export const L2XC_IP_PROTOCOL = 61;
const SOURCES_PER_DIRECTION = 254;

const ADDRESSES: Record<Direction, { srcFirst: string; dst: string }> = {
  0: { srcFirst: "10.10.10.1", dst: "20.20.20.1" },
  1: { srcFirst: "20.20.20.1", dst: "10.10.10.1" },
};

/** CSIT's IMIX_v4_1 streams: relative rates 7:4:1 (28:16:4) and their inter-stream gaps (µs). */
export const IMIX_V4_1_STREAMS: ReadonlyArray<{ frameBytes: number; weight: number; isgUs: number }> =
  IMIX_V4_1_MIX.map((part, index) => ({
    frameBytes: part.frameBytes,
    weight: part.count,
    isgUs: index * 0.1,
  }));

/** How a total rate splits over the IMIX streams (pps per stream, in IMIX_V4_1_STREAMS order). */
export function imixRateSplit(totalPps: number): { frameBytes: number; pps: number }[] {
  const weights = IMIX_V4_1_STREAMS.reduce((sum, s) => sum + s.weight, 0);
  return IMIX_V4_1_STREAMS.map((s) => ({ frameBytes: s.frameBytes, pps: (totalPps * s.weight) / weights }));
}

/** The field-engine program: 254 incrementing sources written into IPv4.src, checksum fixed. */
export function sourceSweepVm(direction: Direction): VmInstruction[] {
  const first = ipv4ToInt(ADDRESSES[direction].srcFirst);
  return [
    {
      type: "flow_var",
      name: "src",
      size: 4,
      op: "inc",
      init_value: first,
      min_value: first,
      max_value: first + SOURCES_PER_DIRECTION - 1,
      step: 1,
      split_to_cores: true,
    },
    { type: "write_flow_var", name: "src", pkt_offset: IPV4_SRC_OFFSET, add_value: 0, is_big_endian: true },
    { type: "fix_checksum_ipv4", pkt_offset: IPV4_OFFSET },
  ];
}

/** The profile's packet for one direction and frame size, FCS excluded (frame - 4 bytes). */
export function l2xcPacket(direction: Direction, frameBytes: number): Buffer {
  const { srcFirst, dst } = ADDRESSES[direction];
  return buildIpv4Packet({ frameBytes, srcIp: srcFirst, dstIp: dst, protocol: L2XC_IP_PROTOCOL });
}

function stream(
  direction: Direction,
  frameBytes: number,
  ratePps: number,
  isgUs: number,
  flowStats: FlowStats,
): TrexStream {
  return {
    enabled: true,
    self_start: true,
    start_paused: false,
    isg: isgUs,
    next_stream_id: -1,
    action_count: 0,
    flags: 0, // MACs from trex_cfg.yaml port_info
    core_id: -1,
    mode: { type: "continuous", rate: { type: "pps", value: ratePps } },
    packet: { binary: l2xcPacket(direction, frameBytes).toString("base64"), meta: "" },
    vm: { instructions: sourceSweepVm(direction), split_by_var: "" },
    flow_stats: flowStats,
  };
}

/**
 * The traffic streams of one direction (sent from TG port `direction`). Stream rates are relative
 * weights: start_traffic's absolute pps multiplier sets the port's total, which the server shares
 * out in proportion (one stream for a fixed frame size, 7:4:1 for IMIX_v4_1).
 */
export function l2xcStreams(frame: FrameSize, direction: Direction): StreamSpec[] {
  if (frame === "IMIX_v4_1") {
    return IMIX_V4_1_STREAMS.map((s, index) => ({
      streamId: index + 1,
      profileId: TRAFFIC_PROFILE,
      stream: stream(direction, s.frameBytes, s.weight, s.isgUs, { enabled: false }),
    }));
  }
  return [
    { streamId: 1, profileId: TRAFFIC_PROFILE, stream: stream(direction, frame, 1, 0, { enabled: false }) },
  ];
}

/** Packet group id of a direction's latency stream (CSIT: pg_id 0 and 1). */
export function latencyPgId(direction: Direction): number {
  return direction;
}

/**
 * One latency stream per direction, as CSIT adds after NDR/PDR: same packet and field engine,
 * flow_stats with rule_type "latency". For IMIX the latency packets are 64 B (CSIT measures no
 * IMIX latency). It lives in its own profile so that its rate is its own, not a share of the trial.
 */
export function l2xcLatencyStream(frame: FrameSize, direction: Direction): StreamSpec {
  const frameBytes = frame === "IMIX_v4_1" ? 64 : frame;
  return {
    streamId: 100 + direction,
    profileId: LATENCY_PROFILE,
    stream: stream(direction, frameBytes, 1, 0, {
      enabled: true,
      stream_id: latencyPgId(direction),
      rule_type: "latency",
    }),
  };
}
