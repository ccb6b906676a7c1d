/**
 * Raw packet bytes for TRex streams: Ethernet II + IPv4 (no options) + a fixed filler payload.
 * TRex takes the packet without the 4-byte FCS (the NIC appends it), so a 64 B frame is a 60 B
 * packet; TRex counts frame sizes with the FCS, as CSIT does (CSIT pads to frame - 4).
 */

export const ETHERNET_HEADER_BYTES = 14;
export const IPV4_HEADER_BYTES = 20;
export const FCS_BYTES = 4;
/** Offset of the IPv4 header, the source and the destination address in our packets. */
export const IPV4_OFFSET = ETHERNET_HEADER_BYTES;
export const IPV4_SRC_OFFSET = IPV4_OFFSET + 12;
export const IPV4_DST_OFFSET = IPV4_OFFSET + 16;
const ETHERTYPE_IPV4 = 0x0800;

/** "10.10.10.1" -> 0x0a0a0a01. */
export function ipv4ToInt(address: string): number {
  const parts = address.split(".");
  if (parts.length !== 4) throw new RangeError(`not an IPv4 address: "${address}"`);
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255)
      throw new RangeError(`not an IPv4 address: "${address}"`);
    value = value * 256 + Number(part);
  }
  return value;
}

export function intToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

/** The Internet checksum (RFC 1071) of a header whose checksum field is zero or included. */
export function internetChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    sum += ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface Ipv4PacketSpec {
  /** Frame size as TRex and CSIT count it, FCS included (64 .. 9216). */
  readonly frameBytes: number;
  readonly srcIp: string;
  readonly dstIp: string;
  readonly protocol: number;
  /** MACs; TRex overwrites them from trex_cfg.yaml's port_info when stream flags are 0. */
  readonly srcMac?: readonly number[];
  readonly dstMac?: readonly number[];
  readonly ttl?: number;
  readonly ipId?: number;
}

/** Builds the packet (frame - 4 bytes) with a correct IPv4 header checksum. */
export function buildIpv4Packet(spec: Ipv4PacketSpec): Buffer {
  const length = spec.frameBytes - FCS_BYTES;
  if (!Number.isInteger(spec.frameBytes) || length < ETHERNET_HEADER_BYTES + IPV4_HEADER_BYTES) {
    throw new RangeError(`frame of ${spec.frameBytes} B cannot hold Ethernet + IPv4`);
  }
  const packet = Buffer.alloc(length);
  Buffer.from(spec.dstMac ?? [0, 0, 0, 0, 0, 0]).copy(packet, 0);
  Buffer.from(spec.srcMac ?? [0, 0, 0, 0, 0, 0]).copy(packet, 6);
  packet.writeUInt16BE(ETHERTYPE_IPV4, 12);
  const ip = IPV4_OFFSET;
  packet[ip] = 0x45; // version 4, header of 5 words
  packet[ip + 1] = 0; // DSCP/ECN
  packet.writeUInt16BE(length - ETHERNET_HEADER_BYTES, ip + 2); // total length
  packet.writeUInt16BE(spec.ipId ?? 1, ip + 4);
  packet.writeUInt16BE(0, ip + 6); // flags + fragment offset
  packet[ip + 8] = spec.ttl ?? 64;
  packet[ip + 9] = spec.protocol;
  packet.writeUInt32BE(ipv4ToInt(spec.srcIp), IPV4_SRC_OFFSET);
  packet.writeUInt32BE(ipv4ToInt(spec.dstIp), IPV4_DST_OFFSET);
  packet.writeUInt16BE(ipv4HeaderChecksum(packet), ip + 10);
  // A fixed, printable filler (CSIT uses random letters; fixed keeps requests reproducible).
  for (let i = ip + IPV4_HEADER_BYTES, k = 0; i < length; i++, k++) packet[i] = 0x61 + (k % 26);
  return packet;
}

/** The checksum the IPv4 header of `packet` should carry (its own checksum field ignored). */
export function ipv4HeaderChecksum(packet: Uint8Array): number {
  const header = Buffer.from(packet.subarray(IPV4_OFFSET, IPV4_OFFSET + IPV4_HEADER_BYTES));
  header.writeUInt16BE(0, 10);
  return internetChecksum(header);
}
