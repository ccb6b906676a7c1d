/**
 * Parsers of VPP CLI answers (vppctl -s <sock> ...), written against the format strings in VPP's
 * sources: `show threads` (src/vlib/threads_cli.c, show_threads_fn), `show vhost-user`
 * (src/vnet/devices/virtio/vhost_user.c, later src/plugins/vhost/vhost_user.c,
 * show_vhost_user_command_fn), `show interface` (src/vnet/interface_cli.c with
 * format_vnet_sw_interface in interface_format.c) and `show version` (src/vpp/app/version.c).
 * Each refuses what it cannot read instead of guessing: an error names the line.
 */

export class VppParseError extends Error {
  constructor(what: string, detail: string) {
    super(`${what}: ${detail}`);
    this.name = "VppParseError";
  }
}

// ------------------------------------------------------------------ show threads

export interface VppThread {
  id: number;
  /** vpp_main, vpp_wk_0, ... */
  name: string;
  /** "workers" for data-plane threads, "" for the main thread */
  type: string;
  /** the kernel thread id (TID) */
  lwp: number;
  policy: string;
  priority: number | null;
  /** logical CPU, physical core, socket; null when VPP prints n/a */
  lcore: number | null;
  core: number | null;
  socket: number | null;
}

const THREAD_LINE =
  /^(\d+)\s+(\S+)\s+(?:(\S+)\s+)?(\d+)\s+(other|batch|idle|fifo|rr|unknown)\s+\((\d+|n\/a)\)\s+(\d+|n\/a)\s+(\d+|n\/a)\s+(\d+|n\/a)\s*(?:\s\S.*)?$/;
const numOrNull = (s: string): number | null => (s === "n/a" ? null : Number(s));

/** `show threads`: one row per VPP thread (header first). */
export function parseShowThreads(text: string): VppThread[] {
  const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
  const start = lines.findIndex((l) => /^ID\s+Name\s+Type\s+LWP\s+Sched Policy/.test(l));
  if (start < 0)
    throw new VppParseError("show threads", "no header line (ID Name Type LWP Sched Policy ...)");
  const out: VppThread[] = [];
  for (const l of lines.slice(start + 1)) {
    if (l.trim() === "") continue;
    const m = THREAD_LINE.exec(l.trimEnd());
    if (!m) throw new VppParseError("show threads", `cannot read the line ${JSON.stringify(l)}`);
    out.push({
      id: Number(m[1]),
      name: m[2]!,
      type: m[3] ?? "",
      lwp: Number(m[4]),
      policy: m[5]!,
      priority: numOrNull(m[6]!),
      lcore: numOrNull(m[7]!),
      core: numOrNull(m[8]!),
      socket: numOrNull(m[9]!),
    });
  }
  if (out.length === 0) throw new VppParseError("show threads", "no thread rows");
  return out;
}

/** VPP names its data-plane threads vpp_wk_<n> (thread prefix "vpp", registration "workers"). */
export const VPP_WORKER_COMM = /^vpp_wk_\d+$/;

/** The worker threads' TIDs, in worker order. */
export function workerTids(threads: VppThread[]): number[] {
  return threads.filter((t) => VPP_WORKER_COMM.test(t.name)).map((t) => t.lwp);
}

// ------------------------------------------------------------------ show vhost-user

export interface VppVirtqueue {
  index: number;
  /** TX = guest -> VPP (VPP receives), RX = VPP -> guest, by VPP's naming of the vring */
  dir: "TX" | "RX";
  enabled: boolean;
  size: number;
}

export interface VppVhostInterface {
  name: string;
  ifindex: number;
  socket: string;
  role: "client" | "server";
  /** strerror of the socket's last error; "Success" once connected */
  errno: string;
  /** negotiated: the guest has set up memory regions and vrings */
  connected: boolean;
  features: string[];
  queues: VppVirtqueue[];
  /** vring sizes as the guest set them: the largest enabled RX/TX vring (undefined: none started) */
  rxSize?: number;
  txSize?: number;
}

/** `show vhost-user`: every vhost-user interface with its socket, state and negotiated vrings. */
export function parseShowVhostUser(text: string): VppVhostInterface[] {
  const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
  if (!lines.some((l) => /^Virtio vhost-user interfaces/.test(l)))
    throw new VppParseError("show vhost-user", "no 'Virtio vhost-user interfaces' title");
  const out: VppVhostInterface[] = [];
  let cur: (VppVhostInterface & { regions: number }) | undefined;
  let q: VppVirtqueue | undefined;
  const finish = () => {
    if (!cur) return;
    if (!cur.socket) throw new VppParseError("show vhost-user", `${cur.name} has no socket filename line`);
    const size = (d: "RX" | "TX"): number | undefined => {
      const s = cur!.queues.filter((v) => v.dir === d && v.enabled).map((v) => v.size);
      return s.length ? Math.max(...s) : undefined;
    };
    const { regions, ...rest } = cur;
    out.push({
      ...rest,
      connected: regions > 0 && cur.queues.length > 0,
      rxSize: size("RX"),
      txSize: size("TX"),
    });
  };
  for (const l of lines) {
    let m: RegExpExecArray | null;
    if ((m = /^Interface: (\S+) \(ifindex (\d+)\)/.exec(l))) {
      finish();
      cur = {
        name: m[1]!,
        ifindex: Number(m[2]),
        socket: "",
        role: "client",
        errno: "",
        connected: false,
        features: [],
        queues: [],
        regions: 0,
      };
      q = undefined;
    } else if (!cur) {
      continue;
    } else if ((m = /^\s*socket filename (\S+) type (client|server) errno "([^"]*)"/.exec(l))) {
      cur.socket = m[1]!;
      cur.role = m[2] as "client" | "server";
      cur.errno = m[3]!;
    } else if ((m = /^\s+((?:VIRTIO|VHOST)_\w+) \((\d+)\)\s*$/.exec(l)) && !/PROTOCOL_F_/.test(m[1]!)) {
      cur.features.push(m[1]!);
    } else if ((m = /^\s*Memory regions \(total (\d+)\)/.exec(l))) {
      cur.regions = Number(m[1]);
    } else if ((m = /^\s*Virtqueue (\d+)(?: \((RX|TX)( disabled)?\))?\s*$/.exec(l))) {
      const index = Number(m[1]);
      // older VPPs print no direction: even vrings are TX (guest -> VPP), odd ones RX
      q = { index, dir: (m[2] as "RX" | "TX") ?? (index % 2 ? "RX" : "TX"), enabled: !m[3], size: 0 };
      cur.queues.push(q);
    } else if ((m = /^\s*qsz (\d+) last_avail_idx/.exec(l))) {
      if (!q) throw new VppParseError("show vhost-user", `${cur.name}: a qsz line outside a Virtqueue`);
      q.size = Number(m[1]);
    }
  }
  finish();
  return out;
}

// ------------------------------------------------------------------ show interface

export interface VppInterfaceCounters {
  name: string;
  idx: number;
  up: boolean;
  /** every counter VPP printed: "rx packets", "tx packets", "drops", "rx-miss", ... */
  counters: Record<string, number>;
}

const IF_LINE = /^(\S+)\s+(\d+)\s+(up|down)(?:\s+(\d+\/\d+\/\d+\/\d+))?\s*(.*)$/;
const COUNTER = /^(\S(?:.*\S)?)\s+(\d+)$/;

/** `show interface`: per interface its counters (absent counters are 0 in VPP: not printed). */
export function parseShowInterface(text: string): VppInterfaceCounters[] {
  const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
  const start = lines.findIndex((l) => /^\s*Name\s+Idx\s+State\s/.test(l));
  if (start < 0)
    throw new VppParseError("show interface", "no header line (Name Idx State ... Counter Count)");
  const out: VppInterfaceCounters[] = [];
  let cur: VppInterfaceCounters | undefined;
  const counter = (rest: string, l: string) => {
    const r = rest.trim();
    if (r === "") return;
    const m = COUNTER.exec(r);
    if (!m || !cur) throw new VppParseError("show interface", `cannot read the line ${JSON.stringify(l)}`);
    cur.counters[m[1]!.replace(/\s+/g, " ")] = Number(m[2]);
  };
  for (const l of lines.slice(start + 1)) {
    if (l.trim() === "") continue;
    if (/^\S/.test(l)) {
      const m = IF_LINE.exec(l.trimEnd());
      if (!m) throw new VppParseError("show interface", `cannot read the line ${JSON.stringify(l)}`);
      cur = { name: m[1]!, idx: Number(m[2]), up: m[3] === "up", counters: {} };
      out.push(cur);
      counter(m[5] ?? "", l);
    } else counter(l, l);
  }
  return out;
}

/** The counters the bench runner uses, in the names its port deltas take (testpmd's ethdev names). */
export function portStats(c: VppInterfaceCounters): Record<string, number> {
  const v = (k: string): number => c.counters[k] ?? 0;
  return {
    ipackets: v("rx packets"),
    opackets: v("tx packets"),
    imissed: v("rx-miss"),
    ierrors: v("rx-error") + v("rx-no-buf"),
    oerrors: v("tx-error"),
    drops: v("drops"),
  };
}

// ------------------------------------------------------------------ show version

/** `show version`: "vpp v24.10-release built by root on host at 2024-10-30T10:00:00" -> "24.10-release". */
export function parseShowVersion(text: string): string {
  const m = /^vpp v(\S+) built by /m.exec(text);
  if (!m)
    throw new VppParseError(
      "show version",
      `not a VPP version line: ${JSON.stringify(text.trim().slice(0, 120))}`,
    );
  return m[1]!;
}
