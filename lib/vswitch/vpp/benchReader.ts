/**
 * What the benchmark runner reads of a running VPP on the DUT (issue 11), through vppctl on the
 * vswitch's CLI socket: per-port counters (`show interface`), the worker threads' TIDs
 * (`show threads`) and the negotiated vhost-user vring sizes (`show vhost-user`). `exec` runs one
 * shell command on the DUT and returns its stdout (throwing on a failed command), e.g. the
 * runner's RemoteExec wrapped with runChecked.
 */
import { shQuote } from "../../bench/remote";
import {
  parseShowInterface,
  parseShowThreads,
  parseShowVhostUser,
  portStats,
  workerTids,
  type VppVhostInterface,
} from "./parsers";

export type DutExec = (command: string) => Promise<string>;

/** One port's counters, in the shape of the runner's PortStats (dpdk_telemetry.py --ports). */
export interface VppPortStats {
  id: number;
  name: string;
  stats: Record<string, number>;
}

export interface VppBenchReading {
  ports: VppPortStats[];
  workerTids: number[];
  rings: { socket: string; interface: string; connected: boolean; rxSize?: number; txSize?: number }[];
}

const SOCK = /^\/[A-Za-z0-9_.@%+=:,/-]{1,106}$/;

/** `vppctl -s <sock> <words>` with every word quoted. */
export function vppctl(cliSocket: string, ...words: string[]): string {
  if (!SOCK.test(cliSocket) || cliSocket.includes(".."))
    throw new Error(`'${cliSocket}' is not a CLI socket path`);
  return ["vppctl", "-s", cliSocket, ...words].map(shQuote).join(" ");
}

/** Per-port counters of every interface but local0 (VPP's placeholder), in sw_if_index order. */
export async function readVppPorts(exec: DutExec, cliSocket: string): Promise<VppPortStats[]> {
  const ifs = parseShowInterface(await exec(vppctl(cliSocket, "show", "interface")));
  return ifs
    .filter((i) => i.name !== "local0")
    .sort((a, b) => a.idx - b.idx)
    .map((i) => ({ id: i.idx, name: i.name, stats: portStats(i) }));
}

export async function readVppWorkerTids(exec: DutExec, cliSocket: string): Promise<number[]> {
  const tids = workerTids(parseShowThreads(await exec(vppctl(cliSocket, "show", "threads"))));
  if (tids.length === 0) throw new Error(`VPP on ${cliSocket} reports no worker threads (vpp_wk_*)`);
  return tids;
}

export async function readVppRings(exec: DutExec, cliSocket: string): Promise<VppBenchReading["rings"]> {
  const vus: VppVhostInterface[] = parseShowVhostUser(await exec(vppctl(cliSocket, "show", "vhost-user")));
  return vus.map((v) => ({
    socket: v.socket,
    interface: v.name,
    connected: v.connected,
    ...(v.rxSize !== undefined ? { rxSize: v.rxSize } : {}),
    ...(v.txSize !== undefined ? { txSize: v.txSize } : {}),
  }));
}

/** Everything at once (three vppctl calls). */
export async function readVppBench(exec: DutExec, cliSocket: string): Promise<VppBenchReading> {
  const ports = await readVppPorts(exec, cliSocket);
  const tids = await readVppWorkerTids(exec, cliSocket);
  const rings = await readVppRings(exec, cliSocket);
  return { ports, workerTids: tids, rings };
}
