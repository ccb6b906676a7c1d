/**
 * OVS's own output, parsed: `ovs-vsctl --format=json --data=json list Interface` (the Interface
 * table: statistics and status maps per port). Pure: no I/O.
 */

/** One row of the Interface table, the columns the lab reads. */
export interface OvsInterface {
  name: string;
  type: string;
  ofport: number | null;
  error: string | null;
  statistics: Record<string, number>;
  status: Record<string, string>;
}

export class OvsParseError extends Error {}

type Datum = unknown;

/** OVSDB JSON datum of a map: ["map", [[k, v], ...]]. */
function mapOf(d: Datum, what: string): [unknown, unknown][] {
  if (Array.isArray(d) && d[0] === "map" && Array.isArray(d[1])) {
    return (d[1] as unknown[]).map((pair) => {
      if (!Array.isArray(pair) || pair.length !== 2)
        throw new OvsParseError(`${what}: a map entry is not a pair`);
      return [pair[0], pair[1]];
    });
  }
  throw new OvsParseError(`${what}: not an OVSDB map`);
}

/** An optional scalar: the value, or ["set", []] for none (or ["set", [v]]). */
function optional(d: Datum): unknown {
  if (Array.isArray(d) && d[0] === "set") {
    const items = d[1] as unknown[];
    return Array.isArray(items) && items.length > 0 ? items[0] : null;
  }
  return d;
}

/** `ovs-vsctl --format=json --data=json --columns=... list Interface` -> rows. */
export function parseInterfaceList(text: string): OvsInterface[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new OvsParseError("ovs-vsctl list Interface: output is not JSON");
  }
  const { headings, data } = (doc ?? {}) as { headings?: unknown; data?: unknown };
  if (!Array.isArray(headings) || !Array.isArray(data)) {
    throw new OvsParseError("ovs-vsctl list Interface: no headings/data (use --format=json --data=json)");
  }
  const col = (name: string): number => headings.indexOf(name);
  if (col("name") < 0) throw new OvsParseError("ovs-vsctl list Interface: no name column");
  return data.map((row, i) => {
    if (!Array.isArray(row) || row.length !== headings.length)
      throw new OvsParseError(`ovs-vsctl list Interface: row ${i} does not match the headings`);
    const get = (name: string): unknown => (col(name) >= 0 ? row[col(name)] : undefined);
    const name = get("name");
    if (typeof name !== "string") throw new OvsParseError(`ovs-vsctl list Interface: row ${i} has no name`);
    // no prototype: a key such as "__proto__" is just a key
    const stats = Object.create(null) as Record<string, number>;
    if (get("statistics") !== undefined) {
      for (const [k, v] of mapOf(get("statistics"), `${name}.statistics`)) {
        if (typeof k === "string" && typeof v === "number" && Number.isFinite(v)) stats[k] = v;
      }
    }
    const status = Object.create(null) as Record<string, string>;
    if (get("status") !== undefined) {
      for (const [k, v] of mapOf(get("status"), `${name}.status`)) {
        if (typeof k === "string" && typeof v === "string") status[k] = v;
      }
    }
    const ofport = optional(get("ofport"));
    const error = optional(get("error"));
    const type = get("type");
    return {
      name,
      type: typeof type === "string" ? type : "",
      ofport: typeof ofport === "number" ? ofport : null,
      error: typeof error === "string" && error.length > 0 ? error : null,
      statistics: stats,
      status,
    };
  });
}

/**
 * Port counters in the DPDK names the runner's deltas use (ipackets, opackets, imissed,
 * ierrors, oerrors), from an OVS Interface's statistics. OVS counts what it could not take in
 * as rx_dropped (rx_missed_errors as well on DPDK NICs), both are "missed" here.
 */
export function dpdkNamedCounters(stats: Record<string, number>): Record<string, number> {
  return {
    ipackets: stats["rx_packets"] ?? 0,
    opackets: stats["tx_packets"] ?? 0,
    imissed: (stats["rx_dropped"] ?? 0) + (stats["rx_missed_errors"] ?? 0),
    ierrors: stats["rx_errors"] ?? 0,
    oerrors: (stats["tx_errors"] ?? 0) + (stats["tx_dropped"] ?? 0),
  };
}

/**
 * Negotiated vring sizes of a dpdkvhostuserclient port, from its status map: OVS reports
 * num_of_vrings and vring_<n>_size once the guest's driver set the rings up (nothing before).
 * Even vrings are the guest's rx queues (OVS transmits there), odd ones its tx queues.
 */
export function vhostRingSizes(status: Record<string, string>): { rxSize?: number; txSize?: number } | null {
  const size = (n: number): number | undefined => {
    const v = status[`vring_${n}_size`];
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
  };
  const rx = size(0);
  const tx = size(1);
  if (rx === undefined && tx === undefined) return null;
  return { ...(rx !== undefined ? { rxSize: rx } : {}), ...(tx !== undefined ? { txSize: tx } : {}) };
}
