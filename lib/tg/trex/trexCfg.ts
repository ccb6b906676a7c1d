/**
 * /etc/trex_cfg.yaml from the lab model (pure: no Pulumi, no I/O).
 *
 * TRex's platform config (trex-core doc/trex_book.asciidoc, "YAML Configuration File"): a
 * one-element list with `version: 2`, `port_limit` (= the interfaces listed), `interfaces` (PCI
 * ids; the first is TRex port 0; or Linux interface names for software mode on veth), `port_info`
 * (per port: `dest_mac`, and `src_mac`, which defaults to the port's own MAC), `c` (worker threads
 * per interface pair), `limit_memory` (MB, DPDK -m) and `platform` (`master_thread_id`,
 * `latency_thread_id`, one `dual_if` entry per interface pair: NUMA `socket` and `threads`).
 * CSIT writes the same keys (resources/libraries/python/TrafficGenerator.py): the lower PCI id
 * is port 0, and for L2 cross-connect the dest MAC of a port is the other TG port's MAC.
 * With fewer than 3 CPUs TRex refuses to start unless `low_end: true` (observed on v3.08,
 * DESIGN.md §7); then there is no platform section and the one data-plane core is `low_end_core`.
 */
import type { Host, TrexOptions } from "../../lab";

/** TRex's default ports (DESIGN.md §6): RPC (ZeroMQ REQ/REP) and async events (PUB). */
export const TREX_RPC_PORT = 4501;
export const TREX_ASYNC_PORT = 4500;

export interface TrexThreads {
  /** fewer than 3 TG CPUs: `low_end: true`, no platform section */
  lowEnd: boolean;
  /** worker threads per interface pair (`c`) */
  c: number;
  master: number;
  latency: number;
  /** per interface pair: its worker threads (empty when lowEnd) */
  dualIf: number[][];
  /** lowEnd only: the core TRex's data path runs on */
  lowEndCore: number | undefined;
}

/**
 * The TG CPUs (cpus.tg) split as TRex wants them: the lowest is the master (control) thread,
 * the next the latency (RX) thread, then `workers` threads per interface pair in ascending
 * order. Fewer than 3 CPUs: low-end mode (one worker, on the highest CPU).
 */
export function allotTrexThreads(
  tgCpus: readonly number[],
  pairs: number,
  workers: number,
  where = "tg",
): TrexThreads {
  const cpus = [...new Set(tgCpus)].sort((a, b) => a - b);
  if (cpus.length === 0) {
    throw new Error(
      `vhost-perf-lab:hosts[${where}].cpus.tg is empty: TRex needs at least one CPU (3 or more for its platform threads)`,
    );
  }
  if (!Number.isInteger(pairs) || pairs < 1)
    throw new Error(`TRex needs at least one port pair (got ${pairs})`);
  if (!Number.isInteger(workers) || workers < 1) {
    throw new Error(`vhost-perf-lab:tg.options.workers must be an integer >= 1 (got ${workers})`);
  }
  if (cpus.length < 3) {
    return {
      lowEnd: true,
      c: 1,
      master: cpus[0]!,
      latency: cpus[0]!,
      dualIf: [],
      lowEndCore: cpus[cpus.length - 1]!,
    };
  }
  const rest = cpus.slice(2);
  const need = workers * pairs;
  if (rest.length < need) {
    throw new Error(
      `vhost-perf-lab:tg.options.workers: ${workers} worker thread(s) per port pair x ${pairs} pair(s) need ${need} CPUs ` +
        `beside TRex's master and latency threads; vhost-perf-lab:hosts[${where}].cpus.tg (${cpus.join(",")}) leaves ${rest.length}. ` +
        `Fix: set tg.options.workers to ${Math.max(1, Math.floor(rest.length / pairs))} or give cpus.tg more CPUs`,
    );
  }
  const dualIf = Array.from({ length: pairs }, (_, i) => rest.slice(i * workers, (i + 1) * workers));
  return { lowEnd: false, c: workers, master: cpus[0]!, latency: cpus[1]!, dualIf, lowEndCore: undefined };
}

export interface TrexPort {
  /** TRex port id */
  port: number;
  /** the lab NIC's name (hosts[].nics[].name) */
  nic: string;
  /** what trex_cfg lists: the PCI id, or the interface name (veth, software mode) */
  iface: string;
  srcMac: string | undefined;
  destMac: string;
}

export interface TrexCfgInput {
  /** the TG host (roles include tg) */
  host: Host;
  options: TrexOptions;
  /** each port's own MAC, by its iface (PCI id or interface name): nic-bind.sh reports them */
  macs: Readonly<Record<string, string>>;
  /** dest MAC per TRex port; default: L2 cross-connect, the other port of the pair */
  destMacs?: readonly string[];
  /** non-default ZeroMQ ports (zmq_rpc_port / zmq_pub_port) */
  rpcPort?: number;
  asyncPort?: number;
}

export interface TrexCfg {
  text: string;
  ports: TrexPort[];
  threads: TrexThreads;
  /** veth ports: TRex runs with --software (af_packet, no NIC offloads) */
  software: boolean;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

function mac(v: string | undefined, what: string): string {
  const m = (v ?? "").trim().toLowerCase();
  if (!MAC_RE.test(m)) throw new Error(`${what}: '${v ?? ""}' is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  return m;
}

/** The TG host's NICs as TRex ports: PCI NICs by PCI id (lower = port 0), veth NICs in config order. */
export function trexPorts(host: Host): { nic: string; iface: string; pci: boolean }[] {
  const nics = host.nics;
  const kinds = new Set(nics.map((n) => n.kind));
  if (kinds.size > 1) {
    throw new Error(
      `vhost-perf-lab:hosts[${host.name}].nics: TRex ports are either all PCI or all veth, not mixed`,
    );
  }
  if (nics.length < 2 || nics.length % 2 !== 0) {
    throw new Error(
      `vhost-perf-lab:hosts[${host.name}].nics: TRex needs an even number of ports (pairs), found ${nics.length}`,
    );
  }
  const ports = nics.map((n) => ({
    nic: n.name,
    iface: n.kind === "pci" ? n.pci : n.peer,
    pci: n.kind === "pci",
  }));
  if (ports[0]!.pci) ports.sort((a, b) => (a.iface < b.iface ? -1 : a.iface > b.iface ? 1 : 0));
  return ports;
}

const q = (s: string): string => `"${s}"`;

/** The text of /etc/trex_cfg.yaml for the TG host. Throws with the config path on a misfit. */
export function trexCfg(input: TrexCfgInput): TrexCfg {
  const { host, options } = input;
  if (!host.roles.includes("tg")) throw new Error(`vhost-perf-lab:hosts[${host.name}] has no role tg`);
  const found = trexPorts(host);
  const pairs = found.length / 2;
  const threads = allotTrexThreads(host.cpus.tg, pairs, options.workers, host.name);
  const own = found.map((p) => mac(input.macs[p.iface], `MAC of ${host.name} ${p.nic} (${p.iface})`));
  if (input.destMacs && input.destMacs.length !== found.length) {
    throw new Error(`TRex dest MACs: ${input.destMacs.length} given for ${found.length} ports`);
  }
  const ports: TrexPort[] = found.map((p, i) => ({
    port: i,
    nic: p.nic,
    iface: p.iface,
    srcMac: own[i],
    destMac: input.destMacs ? mac(input.destMacs[i], `dest MAC of TRex port ${i}`) : own[i ^ 1]!,
  }));
  const lines = [
    `# written by vhost-perf-lab (lib/tg/trex/trexCfg.ts) for TG host ${host.name}; put back on destroy`,
    "- version: 2",
    `  port_limit: ${ports.length}`,
    `  interfaces: [${ports.map((p) => q(p.iface)).join(", ")}]`,
    `  c: ${threads.c}`,
    `  limit_memory: ${options.limitMemoryMiB}`,
  ];
  if (input.rpcPort !== undefined && input.rpcPort !== TREX_RPC_PORT)
    lines.push(`  zmq_rpc_port: ${input.rpcPort}`);
  if (input.asyncPort !== undefined && input.asyncPort !== TREX_ASYNC_PORT)
    lines.push(`  zmq_pub_port: ${input.asyncPort}`);
  lines.push("  port_info:");
  for (const p of ports) {
    lines.push(`    - dest_mac: ${q(p.destMac)}`);
    if (p.srcMac) lines.push(`      src_mac: ${q(p.srcMac)}`);
  }
  if (threads.lowEnd) {
    lines.push("  low_end: true", `  low_end_core: ${threads.lowEndCore}`);
  } else {
    lines.push(
      "  platform:",
      `    master_thread_id: ${threads.master}`,
      `    latency_thread_id: ${threads.latency}`,
      "    dual_if:",
    );
    for (const t of threads.dualIf)
      lines.push(`      - socket: ${host.numaNode}`, `        threads: [${t.join(", ")}]`);
  }
  return { text: lines.join("\n") + "\n", ports, threads, software: !found[0]!.pci };
}
