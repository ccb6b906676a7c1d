/**
 * Frame sizes and rate units as CSIT reports them: packets per second (pps) and layer-1 bits
 * per second, which count the 20 bytes every Ethernet frame costs on the wire besides itself
 * (7 preamble + 1 start-of-frame delimiter + 12 inter-frame gap).
 */

export const ETHERNET_L1_OVERHEAD_BYTES = 20;

/** CSIT's IMIX_v4_1 mix: 28 frames of 64 B, 16 of 570 B and 4 of 1518 B. */
export const IMIX_V4_1_MIX: ReadonlyArray<{ readonly frameBytes: number; readonly count: number }> = [
  { frameBytes: 64, count: 28 },
  { frameBytes: 570, count: 16 },
  { frameBytes: 1518, count: 4 },
];

export type FrameSize = number | "IMIX_v4_1";

const MIN_FRAME_BYTES = 64;
const MAX_FRAME_BYTES = 9216;

/** Average frame length of a mix, weighted by frame count. */
function mixMeanBytes(mix: typeof IMIX_V4_1_MIX): number {
  let bytes = 0;
  let frames = 0;
  for (const part of mix) {
    bytes += part.frameBytes * part.count;
    frames += part.count;
  }
  return bytes / frames;
}

/** Mean frame length in bytes (353.83 B for IMIX_v4_1). */
export function meanFrameBytes(frame: FrameSize): number {
  if (frame === "IMIX_v4_1") return mixMeanBytes(IMIX_V4_1_MIX);
  if (!Number.isInteger(frame) || frame < MIN_FRAME_BYTES || frame > MAX_FRAME_BYTES) {
    throw new RangeError(
      `frame size must be an integer in ${MIN_FRAME_BYTES}..${MAX_FRAME_BYTES} B, got ${frame}`,
    );
  }
  return frame;
}

/** Layer-1 bit rate of a packet rate: pps x (frame + 20) x 8, using the mean frame for a mix. */
export function l1BitsPerSecond(pps: number, frame: FrameSize): number {
  return pps * (meanFrameBytes(frame) + ETHERNET_L1_OVERHEAD_BYTES) * 8;
}

/** Packet rate that fills a link of `linkBps` at layer 1 (e.g. 10GE, 64 B: 14.88 Mpps). */
export function lineRatePps(linkBps: number, frame: FrameSize): number {
  return linkBps / ((meanFrameBytes(frame) + ETHERNET_L1_OVERHEAD_BYTES) * 8);
}

/** Parses CSIT's frame labels: "64B", "1518B", "9000B", "IMIX_v4_1". */
export function parseFrameSize(label: string): FrameSize {
  if (label === "IMIX_v4_1") return label;
  const match = /^(\d+)B$/.exec(label);
  if (!match || match[1] === undefined) throw new RangeError(`unknown frame size label "${label}"`);
  const bytes = Number(match[1]);
  meanFrameBytes(bytes);
  return bytes;
}

export function frameLabel(frame: FrameSize): string {
  return frame === "IMIX_v4_1" ? frame : `${frame}B`;
}

/** A rate as the project reports it: packets per second and layer-1 bits per second. */
export interface Rate {
  readonly pps: number;
  readonly l1Bps: number;
}

export function rateOf(pps: number, frame: FrameSize): Rate {
  return { pps, l1Bps: l1BitsPerSecond(pps, frame) };
}

/**
 * Relative width of an interval of loads: (upper - lower) / upper. This is the width MLRsearch
 * compares with its goal width (0.005 means the bounds are within 0.5 % of the upper one).
 */
export function relativeWidth(lower: number, upper: number): number {
  return (upper - lower) / upper;
}

/** Human-readable packet rate: "6.000 Mpps", "450.0 kpps", "9001 pps". */
export function formatPps(pps: number): string {
  if (Math.abs(pps) >= 1e6) return `${(pps / 1e6).toFixed(3)} Mpps`;
  if (Math.abs(pps) >= 1e4) return `${(pps / 1e3).toFixed(1)} kpps`;
  return `${Math.round(pps)} pps`;
}

/** Human-readable bit rate: "8.064 Gbps". */
export function formatBps(bps: number): string {
  if (Math.abs(bps) >= 1e9) return `${(bps / 1e9).toFixed(3)} Gbps`;
  if (Math.abs(bps) >= 1e6) return `${(bps / 1e6).toFixed(3)} Mbps`;
  return `${(bps / 1e3).toFixed(3)} kbps`;
}
