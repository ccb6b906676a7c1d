/**
 * The vppctl commands that wire a started VPP for the lab (issue 11): one vhost-user interface
 * per VM socket as a client (QEMU is the server), every interface up, NIC port i joined with
 * vhost interface i (CSIT's l2xc both ways, or one bridge domain per pair for l2bd), and the rx
 * queues spread over the workers. Each command carries the output VPP answers on success: the
 * new interface's name for `create vhost-user`, nothing for the `set` commands. The start script
 * runs them in order and stops at the first answer that differs (and undoes the start).
 *
 * Interface names are known ahead: the NIC ports carry the names startup.conf gives them
 * (`dpdk { dev <pci> { name port0 } }`), and a fresh VPP numbers vhost-user interfaces
 * VirtualEthernet0/0/<k> in creation order (vhost_user.c; the script checks each answer).
 */

export interface VppWiringInput {
  /** NIC port names in lab order (startup.conf's dpdk dev names) */
  nicNames: string[];
  /** vhost-user sockets in lab order: socket i pairs with NIC port i (mod the port count: VM chains) */
  sockets: string[];
  /** rx queues per NIC port (startup.conf num-rx-queues) and per vhost-user interface (VM queue pairs) */
  nicRxQueues: number;
  vhostQueues: number;
  /** worker count: rx placement goes round-robin over workers 0..n-1 */
  workers: number;
  mode: "l2xc" | "l2bd";
  /** vhost-user features: packed ring, GSO; CSIT's default is neither */
  packed?: boolean;
  gso?: boolean;
}

export interface VppCommand {
  cli: string;
  /** what VPP prints on success ("" = nothing) */
  expect: string;
}

export const vhostName = (k: number): string => `VirtualEthernet0/0/${k}`;

const SOCKET = /^\/[A-Za-z0-9_.@%+=:,/-]{1,106}$/;
const IFNAME = /^[A-Za-z][A-Za-z0-9_./-]{0,63}$/;

/** create vhost-user socket <path> [gso] [packed]: no `server` keyword = VPP is the client. */
export function createVhostUser(socket: string, o: { packed?: boolean; gso?: boolean } = {}): string {
  if (!SOCKET.test(socket) || socket.includes(".."))
    throw new Error(`'${socket}' is not a vhost-user socket path`);
  return [
    "create vhost-user socket",
    socket,
    ...(o.gso ? ["gso"] : []),
    ...(o.packed ? ["packed"] : []),
  ].join(" ");
}

const ifname = (n: string): string => {
  if (!IFNAME.test(n)) throw new Error(`'${n}' is not a VPP interface name`);
  return n;
};

export const setUp = (n: string): string => `set interface state ${ifname(n)} up`;
export const xconnect = (from: string, to: string): string =>
  `set interface l2 xconnect ${ifname(from)} ${ifname(to)}`;
export const bridge = (n: string, bd: number): string => `set interface l2 bridge ${ifname(n)} ${bd}`;
export const rxPlacement = (n: string, queue: number, worker: number): string =>
  `set interface rx-placement ${ifname(n)} queue ${queue} worker ${worker}`;

/**
 * Pairs (nic, vhost) of the chain: NIC port i <-> socket i for the first pair of sockets; with
 * more VMs the sockets beyond the NIC count are chained VM to VM (vm k's second NIC to vm k+1's
 * first), as CSIT's multi-VM chains do.
 */
export function vppPairs(nicNames: string[], sockets: string[]): [string, string][] {
  const vh = sockets.map((_, k) => vhostName(k));
  if (nicNames.length !== 2) throw new Error(`VPP wiring needs 2 NIC ports, got ${nicNames.length}`);
  if (vh.length === 0 || vh.length % 2 !== 0)
    throw new Error(`VPP wiring needs two sockets per VM, got ${vh.length}`);
  // port0 <-> vm1 nic1; vm k nic2 <-> vm k+1 nic1; last vm nic2 <-> port1
  const pairs: [string, string][] = [[nicNames[0]!, vh[0]!]];
  for (let k = 1; k + 1 < vh.length; k += 2) pairs.push([vh[k]!, vh[k + 1]!]);
  pairs.push([vh[vh.length - 1]!, nicNames[1]!]);
  return pairs;
}

/** The whole wiring, in the order the start script runs it. */
export function vppWiring(i: VppWiringInput): VppCommand[] {
  if (i.workers < 1) throw new Error("VPP wiring needs at least one worker");
  const out: VppCommand[] = [];
  i.sockets.forEach((s, k) => out.push({ cli: createVhostUser(s, i), expect: vhostName(k) }));
  const all = [...i.nicNames, ...i.sockets.map((_, k) => vhostName(k))];
  for (const n of all) out.push({ cli: setUp(n), expect: "" });
  vppPairs(i.nicNames, i.sockets).forEach(([a, b], p) => {
    if (i.mode === "l2xc") {
      out.push({ cli: xconnect(a, b), expect: "" }, { cli: xconnect(b, a), expect: "" });
    } else {
      const bd = p + 1;
      out.push(
        // l2_bd.c answers a created bridge domain with its id
        {
          cli: `create bridge-domain ${bd} learn 1 forward 1 uu-flood 1 flood 1 arp-term 0`,
          expect: `bridge-domain ${bd}`,
        },
        { cli: bridge(a, bd), expect: "" },
        { cli: bridge(b, bd), expect: "" },
      );
    }
  });
  let w = 0;
  const queues = (n: string): number => (i.nicNames.includes(n) ? i.nicRxQueues : i.vhostQueues);
  for (const n of all) {
    for (let q = 0; q < queues(n); q++) {
      out.push({ cli: rxPlacement(n, q, w), expect: "" });
      w = (w + 1) % i.workers;
    }
  }
  return out;
}

/** The lines the start script reads: "<expect>\t<command>" per command. */
export function wiringScript(cmds: VppCommand[]): string {
  return cmds.map((c) => `${c.expect}\t${c.cli}`).join("\n") + "\n";
}
