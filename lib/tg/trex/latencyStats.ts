/**
 * Reading latency out of get_pgid_stats. The server's reply has, per packet group id, a "latency"
 * entry {lat: {average, total_max, total_min?, jit, histogram {bucket µs: count}, hdrh?}, er: {...}}
 * and a "flow_stats" entry {tp: {port: n}, rp: {port: n}}. total_min is absent on older servers:
 * then the smallest histogram bucket stands in, as TRex's own Python client does. All in µs.
 */

export interface LatencyStats {
  readonly pgId: number;
  readonly minUs: number;
  readonly avgUs: number;
  readonly maxUs: number;
  readonly jitterUs?: number;
  /** Latency packets sent and received for this group (flow_stats tp/rp summed over ports). */
  readonly txPackets?: number;
  readonly rxPackets?: number;
  readonly histogram?: Readonly<Record<string, number>>;
  /** Base64 HDR histogram, when the server runs with --hdrh. */
  readonly hdrh?: string;
}

function sumOf(counts: unknown): number | undefined {
  if (!counts || typeof counts !== "object") return undefined;
  return Object.values(counts as Record<string, unknown>).reduce<number>((a, v) => a + (Number(v) || 0), 0);
}

export function parseLatency(
  reply: Record<string, unknown>,
  pgIds: readonly number[],
): Map<number, LatencyStats> {
  const latency = (reply?.["latency"] ?? {}) as Record<string, { lat?: Record<string, unknown> }>;
  const flows = (reply?.["flow_stats"] ?? {}) as Record<string, Record<string, unknown>>;
  const out = new Map<number, LatencyStats>();
  for (const pgId of pgIds) {
    const lat = latency[String(pgId)]?.lat;
    if (!lat) throw new Error(`TRex get_pgid_stats has no latency for pg_id ${pgId}`);
    const histogram = (lat["histogram"] ?? undefined) as Record<string, number> | undefined;
    const buckets = histogram
      ? Object.keys(histogram)
          .map(Number)
          .filter((b) => histogram[String(b)])
      : [];
    const minUs =
      lat["total_min"] !== undefined ? Number(lat["total_min"]) : buckets.length ? Math.min(...buckets) : NaN;
    const flow = flows[String(pgId)];
    out.set(pgId, {
      pgId,
      minUs,
      avgUs: Number(lat["average"]),
      maxUs: Number(lat["total_max"]),
      ...(lat["jit"] !== undefined ? { jitterUs: Number(lat["jit"]) } : {}),
      ...(flow ? { txPackets: sumOf(flow["tp"]), rxPackets: sumOf(flow["rp"]) } : {}),
      ...(histogram ? { histogram } : {}),
      ...(typeof lat["hdrh"] === "string" ? { hdrh: lat["hdrh"] } : {}),
    });
  }
  return out;
}
