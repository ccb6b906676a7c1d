/**
 * Per-cell vswitch port counters, one small reader per counter source (the vswitch kind's bench
 * hook, plan.dut.vswitchCounters), chosen here and nowhere else.
 */
import type { VswitchCounterSource } from "./plan";
import type { RemoteExec } from "./remote";
import { shQuote } from "./remote";
import { dpdkNamedCounters, parseInterfaceList } from "../vswitch/ovs/parse";
import { readVppPorts } from "../vswitch/vpp/benchReader";

/** One port's counters, DPDK names (ipackets, opackets, imissed, ierrors, oerrors). */
export interface PortStats {
  id: number;
  name: string | null;
  stats: Record<string, number>;
}

export interface CounterReader {
  /** what is read, for warnings */
  readonly what: string;
  /** the ports' counters now; null when they cannot be read */
  read(exec: RemoteExec): Promise<PortStats[] | null>;
}

export interface CounterDeps {
  /** scripts/dpdk_telemetry.py source (testpmd); null: testpmd counters are not read */
  telemetryClient: string | null;
}

/** testpmd: its DPDK telemetry socket, through scripts/dpdk_telemetry.py on the host. */
function dpdkTelemetry(prefix: string, client: string): CounterReader {
  return {
    what: `DPDK telemetry of ${prefix}`,
    async read(exec) {
      const r = await exec.run(`python3 - --prefix ${shQuote(prefix)} --ports`, {
        stdin: client,
        timeoutMs: 15000,
      });
      if (r.code !== 0) return null;
      try {
        return (JSON.parse(r.stdout) as { ports?: PortStats[] }).ports ?? null;
      } catch {
        return null;
      }
    },
  };
}

/** OVS-DPDK: the Interface table's statistics, over the lab's own db socket. */
function ovsInterfaces(runDir: string, bridge: string): CounterReader {
  const cmd = [
    "ovs-vsctl",
    `--db=unix:${shQuote(`${runDir}/db.sock`)}`,
    "--timeout=10",
    "--format=json",
    "--data=json",
    "--columns=name,ofport,statistics",
    "list",
    "Interface",
  ].join(" ");
  return {
    what: `OVS Interface table (${runDir}, bridge ${bridge})`,
    async read(exec) {
      const r = await exec.run(cmd, { timeoutMs: 15000 });
      if (r.code !== 0) return null;
      try {
        return parseInterfaceList(r.stdout)
          .filter((i) => i.name !== bridge)
          .sort((a, b) => (a.ofport ?? 0) - (b.ofport ?? 0))
          .map((i) => ({ id: i.ofport ?? -1, name: i.name, stats: dpdkNamedCounters(i.statistics) }));
      } catch {
        return null;
      }
    },
  };
}

/** VPP: `show interface` over its CLI socket (lib/vswitch/vpp/benchReader.ts). */
function vppInterfaces(cliSocket: string): CounterReader {
  return {
    what: `VPP show interface (${cliSocket})`,
    async read(exec) {
      try {
        return await readVppPorts(async (command) => {
          const r = await exec.run(command, { timeoutMs: 15000 });
          if (r.code !== 0) throw new Error(`${command}: exit ${r.code}`);
          return r.stdout;
        }, cliSocket);
      } catch {
        return null;
      }
    },
  };
}

/** The reader of a counter source; null when there is none (or its tool is not available). */
export function counterReader(
  source: VswitchCounterSource | undefined,
  deps: CounterDeps,
): CounterReader | null {
  if (!source) return null;
  switch (source.kind) {
    case "dpdk-telemetry":
      return deps.telemetryClient ? dpdkTelemetry(source.prefix, deps.telemetryClient) : null;
    case "ovs":
      return ovsInterfaces(source.runDir, source.bridge);
    case "vpp":
      return vppInterfaces(source.cliSocket);
    case "none":
      return null;
  }
}
