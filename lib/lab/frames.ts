/**
 * Frame sizes -> the sizes every layer of the datapath needs (pure). A frame size counts the
 * Ethernet header and the 4-byte FCS (CSIT's convention: 64, 1518, 9000); Linux MTUs count
 * neither, so a frame of F bytes passes an interface with MTU >= F - 18.
 *
 * Used by checks.ts (refuse a frame no port can carry), TrafgenPorts (the veth MTU comes from
 * nics[].mtu), the testpmd vswitch (af_packet ring frames and mbufs) and the guest's testpmd.
 */
import type { Frame } from "./types";

/** Ethernet header (14) + FCS (4): frame bytes - MTU. */
export const FRAME_OVERHEAD_BYTES = 18;
/** The largest frame a standard (non-jumbo) port carries; also IMIX_v4_1's largest. */
export const STANDARD_MAX_FRAME = 1518;

/** Bytes of the largest frame in a frame setting ("imix" = IMIX_v4_1: 64/570/1518). */
export function largestFrameBytes(frame: Frame): number {
  return frame === "imix" ? STANDARD_MAX_FRAME : frame;
}

/** The largest frame of the whole matrix, never below 1518 (every layer is sized for that anyway). */
export function matrixMaxFrame(frames: readonly Frame[]): number {
  return Math.max(STANDARD_MAX_FRAME, ...frames.map(largestFrameBytes));
}

/** The interface MTU a frame of this size needs. */
export function mtuForFrame(frameBytes: number): number {
  return frameBytes - FRAME_OVERHEAD_BYTES;
}

/** The largest frame an interface of this MTU passes. */
export function maxFrameForMtu(mtu: number): number {
  return mtu + FRAME_OVERHEAD_BYTES;
}

/** DPDK's default mbuf headroom (RTE_PKTMBUF_HEADROOM). */
export const MBUF_HEADROOM = 128;
/** testpmd's default mbuf size (2048 B data room + headroom): enough up to 1518 B frames. */
export const DEFAULT_MBUF_SIZE = 2048 + MBUF_HEADROOM;
/**
 * Room the tpacket v2 header takes in an af_packet ring frame before the packet (header, aligned,
 * plus the sockaddr_ll the kernel puts after it), rounded up: the PMD gives each ring frame
 * framesz - 32 B of packet data, and the kernel starts the packet after ~64 B.
 */
export const AF_PACKET_FRAME_HEADROOM = 64;
const PAGE = 4096;

/**
 * The host testpmd vswitch's af_packet and mbuf sizes for the largest frame it must carry
 * (scripts/vswitch-testpmd.sh VSWITCH_AF_FRAMESZ / VSWITCH_AF_BLOCKSZ / VSWITCH_AF_FRAMECNT /
 * VSWITCH_MBUF_SIZE). Up to 1518 B: the defaults the script always used (2 KiB ring frames,
 * 4 KiB blocks, 4096 frames, testpmd's own mbuf size). Larger: ring frames in 2 KiB steps big
 * enough for frame + tpacket header, two per block (blocks stay whole pages), 1024 of them (the
 * ring stays ~20 MiB per queue), and mbufs whose data room holds a whole ring frame (the PMD
 * refuses a queue whose mbufs are smaller than framesz - 32): no scatter anywhere.
 */
export interface VswitchFrameSizes {
  maxFrame: number;
  afFramesz: number;
  afBlocksz: number;
  afFramecnt: number;
  /** testpmd --mbuf-size (data room + headroom); undefined: testpmd's default */
  mbufSize?: number;
}

export function vswitchFrameSizes(maxFrame: number): VswitchFrameSizes {
  assertFrame(maxFrame);
  if (maxFrame <= STANDARD_MAX_FRAME) {
    return { maxFrame, afFramesz: 2048, afBlocksz: PAGE, afFramecnt: 4096 };
  }
  const afFramesz = Math.ceil((maxFrame + AF_PACKET_FRAME_HEADROOM) / 2048) * 2048;
  return {
    maxFrame,
    afFramesz,
    afBlocksz: afFramesz * 2,
    afFramecnt: 1024,
    mbufSize: afFramesz + MBUF_HEADROOM,
  };
}

/**
 * The guest testpmd's options for the largest frame (scripts/vm.sh VM_GUEST_MAX_FRAME): up to
 * 1518 B none (testpmd's defaults); larger: --max-pkt-len (the virtio port's MTU follows), mbufs
 * whose data room holds the whole frame (one descriptor per packet, no scatter/merge needed) and
 * a bounded mbuf count (testpmd's default count at ~9 KiB each would not fit 256 guest hugepages).
 */
export interface GuestFrameOptions {
  maxPktLen?: number;
  mbufSize?: number;
  totalMbufs?: number;
}

export const GUEST_JUMBO_MBUFS = 8192;

export function guestFrameOptions(maxFrame: number): GuestFrameOptions {
  assertFrame(maxFrame);
  if (maxFrame <= STANDARD_MAX_FRAME) return {};
  return {
    maxPktLen: maxFrame,
    mbufSize: Math.ceil((maxFrame + MBUF_HEADROOM) / 1024) * 1024,
    totalMbufs: GUEST_JUMBO_MBUFS,
  };
}

/** Guest hugepage MiB the jumbo mbuf pool takes (for the hugepage check). */
export function guestPoolMiB(o: GuestFrameOptions): number {
  if (o.mbufSize === undefined || o.totalMbufs === undefined) return 0;
  // the mempool adds a header per object (~128 B with the rte_mbuf struct)
  return Math.ceil((o.totalMbufs * (o.mbufSize + 256)) / (1024 * 1024));
}

function assertFrame(frame: number): void {
  if (!Number.isInteger(frame) || frame < 64 || frame > 9216) {
    throw new RangeError(`frame size must be an integer in 64..9216 B, got ${frame}`);
  }
}
