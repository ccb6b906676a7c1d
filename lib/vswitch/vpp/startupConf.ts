/**
 * VPP's startup.conf from the lab model (issue 11). Sections as CSIT's VppConfigGenerator writes
 * them for a vhost l2xc test (resources/libraries/python/VppConfigGenerator.py): unix, api-segment,
 * socksvr, cpu, buffers, dpdk, plugins, memory, statseg. Everything VPP creates at run time (CLI
 * socket, log, API and stats sockets) lives in the vswitch's own directory under the stack's run
 * dir, so two stacks (or a system VPP) on one host never meet; /etc/vpp/startup.conf is not used.
 */
import { formatCpuList } from "../../lab/cpuset";

export interface VppStartupInput {
  /** the vswitch's own directory: cli.sock, api.sock, stats.sock, vpp.log */
  dir: string;
  /** API segment prefix (shared memory names): unique per stack and vswitch */
  apiPrefix: string;
  mainCore: number;
  workerCores: number[];
  /** the DUT's ports in lab order: `dev <pci> { name <name> num-rx-queues <n> }` */
  devices: { pci: string; name: string }[];
  rxQueues: number;
  buffers: number;
  uioDriver: "vfio-pci" | "uio_pci_generic";
  noMultiSeg: boolean;
  /** FD.io package version, e.g. "24.10-release": picks the plugin set */
  version: string;
  /** main heap and stats segment sizes (project defaults 1024 and 128 MiB) */
  mainHeapMiB?: number;
  statsegMiB?: number;
}

/** A startup.conf section: a name and its lines, or nested sections. */
type Item = string | [string, Item[]];

const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

function plain(what: string, v: string): string {
  if (!PLAIN.test(v))
    throw new Error(`startup.conf: ${what} '${v}' has characters VPP's config parser would split on`);
  return v;
}

/** [major, minor] of "24.10-release". */
export function vppRelease(version: string): [number, number] {
  const m = /^(\d{2})\.(\d{2})/.exec(version);
  if (!m) throw new Error(`'${version}' is not a VPP version like 24.10-release`);
  return [Number(m[1]), Number(m[2])];
}

/**
 * The plugins a vhost-user l2 lab needs: dpdk_plugin.so for the NICs, and from VPP 23.10 on the
 * vhost-user driver is a plugin of its own (src/plugins/vhost; before it lived in vnet). Every
 * other plugin stays off, as CSIT does (`plugin default { disable }`).
 */
export function vppPlugins(version: string): string[] {
  const [major, minor] = vppRelease(version);
  const vhostPlugin = major > 23 || (major === 23 && minor >= 10);
  return ["dpdk_plugin.so", ...(vhostPlugin ? ["vhost_plugin.so"] : [])];
}

export const VPP_PCI = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$/;

function sections(i: VppStartupInput): Item[] {
  if (i.workerCores.length === 0) throw new Error("startup.conf: VPP needs at least one worker core");
  if (i.workerCores.includes(i.mainCore))
    throw new Error(`startup.conf: main core ${i.mainCore} is also a worker core`);
  const dir = plain("dir", i.dir.replace(/\/+$/, ""));
  const devs: Item[] = i.devices.map((d) => {
    if (!VPP_PCI.test(d.pci))
      throw new Error(`startup.conf: '${d.pci}' is not a full PCI address (0000:18:00.0)`);
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(d.name))
      throw new Error(`startup.conf: '${d.name}' is not an interface name`);
    return [`dev ${d.pci}`, [`name ${d.name}`, `num-rx-queues ${i.rxQueues}`]];
  });
  return [
    // nodaemon: the start script keeps VPP's own pid (setsid, log file), no fork
    [
      "unix",
      ["nodaemon", `log ${dir}/vpp.log`, `cli-listen ${dir}/cli.sock`, "cli-no-pager", "full-coredump"],
    ],
    ["api-segment", [`prefix ${plain("apiPrefix", i.apiPrefix)}`]],
    ["socksvr", [`socket-name ${dir}/api.sock`]],
    ["cpu", [`main-core ${i.mainCore}`, `corelist-workers ${formatCpuList(i.workerCores)}`]],
    ["buffers", [`buffers-per-numa ${i.buffers}`, "default data-size 2048"]],
    ["dpdk", [...devs, `uio-driver ${i.uioDriver}`, ...(i.noMultiSeg ? ["no-multi-seg"] : [])]],
    [
      "plugins",
      [
        ["plugin default", ["disable"]],
        ...vppPlugins(i.version).map((p): Item => [`plugin ${p}`, ["enable"]]),
      ],
    ],
    ["memory", [`main-heap-size ${i.mainHeapMiB ?? 1024}M`]],
    ["statseg", [`socket-name ${dir}/stats.sock`, `size ${i.statsegMiB ?? 128}M`]],
  ];
}

function render(items: Item[], level: number): string[] {
  const pad = "  ".repeat(level);
  return items.flatMap((it) =>
    typeof it === "string" ? [`${pad}${it}`] : [`${pad}${it[0]} {`, ...render(it[1], level + 1), `${pad}}`],
  );
}

/** The startup.conf text (VPP's own brace syntax, two-space indents, newline at the end). */
export function vppStartupConf(input: VppStartupInput): string {
  return render(sections(input), 0).join("\n") + "\n";
}

/** Where the CLI socket of a vswitch directory is (what vppctl -s and the bench reader use). */
export const vppCliSocket = (dir: string): string => `${dir.replace(/\/+$/, "")}/cli.sock`;
