/**
 * Latency the CSIT way, after NDR/PDR: trials at 10, 50 and 90 % of the PDR (per direction) with
 * one latency stream per direction (flow_stats rule_type "latency", pg_id = direction), reporting
 * per direction min/avg/max in µs and the HDR histogram when the server gives one (t-rex-64
 * --hdrh). Latency streams sit in a profile of their own at a fixed rate of their own.
 */
import type { FrameSize } from "../../measure/units";
import type { LatencyStats } from "./latencyStats";
import type { TrexGenerator, TrexTrialCounts } from "./generator";
import { l2xcLatencyStream, latencyPgId, LATENCY_PROFILE, TRAFFIC_PROFILE, type Direction } from "./streams";

export interface LatencyOptions {
  /** The PDR (per direction, pps) the levels are fractions of. */
  readonly pdrPps: number;
  readonly frame: FrameSize;
  /** Trial seconds per level (CSIT: 5). */
  readonly durationS?: number;
  /** Fractions of the PDR (default 0.1, 0.5, 0.9; 0 = latency stream only). */
  readonly fractions?: readonly number[];
  /** Rate of each latency stream, pps (default 10000). */
  readonly latencyPps?: number;
  readonly signal?: AbortSignal;
}

export interface DirectionLatency {
  readonly direction: Direction;
  readonly txPort: number;
  readonly rxPort: number;
  readonly minUs: number;
  readonly avgUs: number;
  readonly maxUs: number;
  readonly hdrh?: string;
  readonly stats: LatencyStats;
}

export interface LatencyLevel {
  readonly fraction: number;
  /** Trial load per direction, pps (the latency stream comes on top). */
  readonly loadPps: number;
  readonly perDirection: readonly [DirectionLatency, DirectionLatency];
  readonly counts: TrexTrialCounts;
}

export async function measureLatencyAtPdr(
  generator: TrexGenerator,
  options: LatencyOptions,
): Promise<LatencyLevel[]> {
  const { client, ports } = generator;
  const durationS = options.durationS ?? 5;
  const latencyPps = options.latencyPps ?? 10_000;
  const fractions = options.fractions ?? [0.1, 0.5, 0.9];
  if (!(options.pdrPps > 0)) throw new RangeError(`PDR must be a positive pps value, got ${options.pdrPps}`);
  await generator.prepare(options.frame);
  const levels: LatencyLevel[] = [];
  const directions: Direction[] = [0, 1];
  try {
    for (const fraction of fractions) {
      const loadPps = fraction * options.pdrPps;
      // Fresh latency streams per level: a re-added packet group starts its statistics anew.
      await client.removeAllStreams(ports, LATENCY_PROFILE);
      for (const d of directions) await client.addStreams(ports[d], [l2xcLatencyStream(options.frame, d)]);
      const starts = directions.flatMap((d) => [
        ...(loadPps > 0 ? [{ port: ports[d], pps: loadPps, durationS, profileId: TRAFFIC_PROFILE }] : []),
        { port: ports[d], pps: latencyPps, durationS, profileId: LATENCY_PROFILE },
      ]);
      const counts = await generator.timedRun({
        starts,
        durationS,
        profiles: [TRAFFIC_PROFILE, LATENCY_PROFILE],
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const stats = await client.latencyStats(directions.map(latencyPgId));
      const perDirection = directions.map((d): DirectionLatency => {
        const s = stats.get(latencyPgId(d)) as LatencyStats;
        return {
          direction: d,
          txPort: ports[d],
          rxPort: ports[1 - d] as number,
          minUs: s.minUs,
          avgUs: s.avgUs,
          maxUs: s.maxUs,
          ...(s.hdrh !== undefined ? { hdrh: s.hdrh } : {}),
          stats: s,
        };
      }) as unknown as [DirectionLatency, DirectionLatency];
      levels.push({ fraction, loadPps, perDirection, counts });
    }
  } finally {
    await client.removeAllStreams(ports, LATENCY_PROFILE).catch(() => undefined);
  }
  return levels;
}
