/**
 * The runner's view of a traffic generator (trafgen on the local lab, TRex on a lab's TG server):
 * trials through the TrafficGenerator contract plus what a run around them needs. One file per
 * kind implements it; openTg (./open.ts) picks the kind.
 */
import type { TrafficGenerator } from "../../measure/trafficGenerator";
import { frameLabel, type FrameSize } from "../../measure/units";

/** Latency of one level after NDR/PDR, per direction (CSIT: 10, 50, 90 % of the PDR). */
export interface LatencyLevelReport {
  /** "PDR10", "PDR50", "PDR90": the level as CSIT labels it */
  label: string;
  fraction: number;
  /** background load per direction, pps */
  loadPps: number;
  directions: {
    direction: number;
    txPort: number;
    rxPort: number;
    minUs: number;
    avgUs: number;
    maxUs: number;
    /** HDR histogram (base64) when the server kept one */
    hdrh?: string;
  }[];
  /** the level's background trial: offered and received (loss at the level) */
  offered: number;
  received: number;
}

export interface LatencyRequest {
  /** fractions of the PDR, e.g. [0.1, 0.5, 0.9] */
  fractions: number[];
  /** seconds per level */
  durationS: number;
  /** rate of each direction's latency stream, pps */
  streamPps: number;
  signal?: AbortSignal;
}

export interface TgSession extends TrafficGenerator {
  readonly kind: "trafgen" | "trex";
  readonly directions: 1 | 2;
  /** How this TG sends, for the report's tg.note. */
  readonly note: string;
  /** What to check when it sent nothing in the probe, and when its final stop failed. */
  readonly hints: { nothingSent: string; stopFailed: string };
  /** Throws UnsupportedFrameError when this TG cannot carry the frame. */
  checkFrame(frame: FrameSize): Promise<void>;
  /** Clears what a killed run left (a trial still sending, held ports); what it found, or null. */
  clearLeftovers(): Promise<string | null>;
  /** Notes on the last trial's TG limits (cut short, overran, dropped), counted per cell. */
  trialNotes(): string[];
  /** Latency at fractions of the PDR (per direction, pps); undefined when this TG cannot. */
  measureLatency?: (
    pdrPerDirectionPps: number,
    frame: FrameSize,
    options: LatencyRequest,
  ) => Promise<LatencyLevelReport[]>;
  /** Stops any trial and lets go of the TG; also after an interrupt. */
  stop(): Promise<void>;
}

/** The frame cannot be carried by this TG setup (MTU, trafgen ring slots, af_packet frames, a TG that refuses it). */
export class UnsupportedFrameError extends Error {
  constructor(
    readonly frame: FrameSize,
    reason: string,
  ) {
    super(`unsupported frame size on this TG: ${frameLabel(frame)}: ${reason}`);
    this.name = "UnsupportedFrameError";
  }
}
