/**
 * trafgen packet configurations for the benchmark frames, CSIT-like: Ethernet + IPv4 + UDP, source
 * addresses 10.10.10.1..N toward 20.20.20.1, padded to the frame size. Frame sizes count the 4-byte
 * FCS (as CSIT's do), the packet handed to trafgen does not: a 64 B frame is a 60 B packet.
 *
 * Every source address is its own static packet with a precomputed IPv4 checksum, sent round-robin:
 * trafgen's dynamic elements (dinc, csumip) cost CPU per packet and lower its ceiling.
 */
import { IMIX_V4_1_MIX, type FrameSize } from "../measure/units";

export const FCS_BYTES = 4;
const ETH = 14;
const IPV4 = 20;
const UDP = 8;
/** trafgen's default ring slot holds 2048 B including its header; above this it needs -J. */
const TRAFGEN_DEFAULT_SLOT_PAYLOAD = 1600;

export interface TrafgenConfigOptions {
  srcMac: string;
  dstMac: string;
  /** distinct source IPv4 addresses, 1..254 */
  sources: number;
  udpPort?: number;
  /**
   * The reverse direction of a bidirectional trial (CSIT's second stream): sources
   * 20.20.20.1..N toward 10.10.10.1.
   */
  reverse?: boolean;
}

export interface TrafgenConfig {
  text: string;
  packets: number;
  /** bytes of the largest packet (without FCS) */
  maxPacketBytes: number;
  /** mean bytes per packet over the cycle (without FCS): what the kernel's qdiscs count */
  meanPacketBytes: number;
  /** needs trafgen -J (ring slots beyond 2048 B) */
  jumbo: boolean;
  /** largest L3 size: the MTU every interface on the path needs */
  requiredMtu: number;
}

function macBytes(mac: string): number[] {
  const parts = mac.split(":");
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new Error(`bad MAC ${mac}`);
  return parts.map((p) => parseInt(p, 16));
}

/** RFC 791 header checksum over `header` (with its checksum field zero). */
export function ipv4Checksum(header: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += ((header[i] ?? 0) << 8) + (header[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** The bytes of one packet's headers (Ethernet + IPv4 + UDP); the payload is zero padding. */
export function packetHeaders(
  frameBytes: number,
  sourceIndex: number,
  options: TrafgenConfigOptions,
): number[] {
  const packetBytes = frameBytes - FCS_BYTES;
  if (packetBytes < ETH + IPV4 + UDP) throw new Error(`frame ${frameBytes} B is too small for UDP/IPv4`);
  const port = options.udpPort ?? 1024;
  const ipLen = packetBytes - ETH;
  const udpLen = packetBytes - ETH - IPV4;
  const ip = [
    0x45,
    0x00,
    ipLen >> 8,
    ipLen & 0xff,
    0x00,
    0x00, // identification
    0x00,
    0x00, // flags, fragment offset
    64, // TTL
    17, // UDP
    0x00,
    0x00, // checksum, filled below
    ...(options.reverse
      ? [20, 20, 20, sourceIndex, 10, 10, 10, 1]
      : [10, 10, 10, sourceIndex, 20, 20, 20, 1]),
  ];
  const csum = ipv4Checksum(ip);
  ip[10] = csum >> 8;
  ip[11] = csum & 0xff;
  const udp = [port >> 8, port & 0xff, port >> 8, port & 0xff, udpLen >> 8, udpLen & 0xff, 0x00, 0x00];
  return [...macBytes(options.dstMac), ...macBytes(options.srcMac), 0x08, 0x00, ...ip, ...udp];
}

function hex(b: number): string {
  return `0x${b.toString(16).padStart(2, "0")}`;
}

function packetText(frameBytes: number, sourceIndex: number, options: TrafgenConfigOptions): string {
  const headers = packetHeaders(frameBytes, sourceIndex, options);
  const padding = frameBytes - FCS_BYTES - headers.length;
  const body = headers.map(hex).join(",");
  return `{ ${body}${padding > 0 ? `, fill(0x00, ${padding})` : ""} }`;
}

/** IMIX_v4_1 as an interleaved sequence of 48 frame sizes (28 x 64, 16 x 570, 4 x 1518). */
export function imixSequence(): number[] {
  const total = IMIX_V4_1_MIX.reduce((n, part) => n + part.count, 0);
  const sent = IMIX_V4_1_MIX.map(() => 0);
  const out: number[] = [];
  for (let i = 1; i <= total; i++) {
    // Pick the size furthest behind its share after i packets (smooth interleaving).
    let best = 0;
    let bestDeficit = -Infinity;
    IMIX_V4_1_MIX.forEach((part, k) => {
      const deficit = (part.count * i) / total - (sent[k] ?? 0);
      if (deficit > bestDeficit) {
        bestDeficit = deficit;
        best = k;
      }
    });
    sent[best] = (sent[best] ?? 0) + 1;
    out.push((IMIX_V4_1_MIX[best] as { frameBytes: number }).frameBytes);
  }
  return out;
}

/** The trafgen configuration for a frame size. IMIX uses one source per packet of its 48-packet cycle. */
export function trafgenConfig(frame: FrameSize, options: TrafgenConfigOptions): TrafgenConfig {
  if (!Number.isInteger(options.sources) || options.sources < 1 || options.sources > 254) {
    throw new RangeError(`sources must be 1..254, got ${options.sources}`);
  }
  const frames =
    frame === "IMIX_v4_1" ? imixSequence() : Array.from({ length: options.sources }, () => frame);
  const lines = frames.map((bytes, i) => packetText(bytes, (i % options.sources) + 1, options));
  const maxFrame = Math.max(...frames);
  const maxPacketBytes = maxFrame - FCS_BYTES;
  const header =
    `# vhost-perf-lab: ${frame === "IMIX_v4_1" ? "IMIX_v4_1" : `${frame}B`} UDP/IPv4, ` +
    `${options.reverse ? "20.20.20" : "10.10.10"}.1-${Math.min(options.sources, frames.length)} -> ` +
    `${options.reverse ? "10.10.10" : "20.20.20"}.1, ${frames.length} packets round-robin`;
  return {
    text: `${header}\n${lines.join("\n")}\n`,
    packets: frames.length,
    maxPacketBytes,
    meanPacketBytes: frames.reduce((sum, bytes) => sum + bytes - FCS_BYTES, 0) / frames.length,
    jumbo: maxPacketBytes > TRAFGEN_DEFAULT_SLOT_PAYLOAD,
    requiredMtu: maxPacketBytes - ETH,
  };
}
