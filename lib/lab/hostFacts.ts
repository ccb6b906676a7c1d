/**
 * The lab config against what a host really has (pure): run on the facts the DUT's first step
 * reads, before anything on the host is changed. Each error names the config path, what the
 * host has, and the fix, in the same form as parseLab's errors.
 */
import { difference, formatCpuList } from "./cpuset";
import { LabError, NAMESPACE } from "./errors";
import { at } from "./reader";
import { Host, HUGEPAGE_MIB, HugepageSize, Lab } from "./types";

/** What the facts step reads on a host (sysfs, /proc/meminfo, lspci). */
export interface HostFacts {
  /** /sys/devices/system/cpu/online */
  cpusOnline: number[];
  /** /sys/devices/system/node/online; empty on a kernel without NUMA (then node 0 exists) */
  numaNodes: number[];
  /** /sys/kernel/mm/hugepages/hugepages-<n>kB */
  hugepageSizesKiB: number[];
  /** /proc/meminfo MemTotal */
  memTotalMiB: number;
  /** /proc/meminfo MemAvailable (pages already in a hugepage pool are not in it) */
  memAvailableMiB: number;
  /** free_hugepages per page size, keyed by the size in KiB ("2048", "1048576") */
  hugepagesFreeBySizeKiB: Record<string, number>;
  /** PCI addresses, "0000:18:00.0" (lspci -D, or /sys/bus/pci/devices) */
  pciAddresses: string[];
}

/**
 * Memory kept outside the hugepage pool (project default): the kernel, sshd, the vswitch's and
 * QEMU's own heaps (only guest RAM and the vswitch's packet memory come from the pool), the
 * guest agent and the benchmark's SSH sessions. A pool that takes the last MiB of MemAvailable
 * leaves them to the OOM killer.
 */
export const HUGEPAGE_HEADROOM_MIB = 512;

export interface HostFactsOptions {
  /** memory to leave outside the pool; default HUGEPAGE_HEADROOM_MIB */
  headroomMiB?: number;
  /**
   * pages of hosts[].hugepages.size this stack already holds in the pool (from its own record),
   * e.g. when the check runs again on a host where the stack's VMs use its pages; default 0
   */
  heldPages?: number;
}

const KIB: Record<HugepageSize, number> = { "2M": 2048, "1G": 1048576 };

const sizeName = (kib: number): string =>
  kib % 1048576 === 0 ? `${kib / 1048576}G` : kib % 1024 === 0 ? `${kib / 1024}M` : `${kib}K`;

const plural = (n: number, one: string, many = `${one}s`): string => (n === 1 ? one : many);

/** "0000:18:00.0" for "18:00.0" or "0000:18:00.0" in any case; other text as it is. */
function pciKey(a: string): string {
  const m = /^(?:([0-9a-f]{4}):)?([0-9a-f]{2}:[0-9a-f]{2}\.[0-7])$/i.exec(a.trim());
  return m ? `${m[1] ?? "0000"}:${m[2]}`.toLowerCase() : a.trim().toLowerCase();
}

/**
 * Every mismatch between `host` (one of lab.hosts) and the facts read on it:
 * CPUs of every role online, hosts[].numaNode present, the hugepage size offered by the kernel,
 * each pci port present, and the hugepage pool within the memory the host can give it.
 */
export function checkHostFacts(
  host: Host,
  lab: Lab,
  facts: HostFacts,
  opts: HostFactsOptions = {},
): LabError[] {
  const errors: LabError[] = [];
  let index = lab.hosts.indexOf(host);
  if (index < 0) index = lab.hosts.findIndex((h) => h.name === host.name);
  const hp = index < 0 ? `hosts[name=${host.name}]` : `hosts[${index}]`;
  const error = (path: string, expected: string, found: string, hint: string) =>
    errors.push({ path: `${NAMESPACE}:${path}`, expected, found, hint });
  const on = `on ${host.name || "this host"}`;

  // CPUs: every role's list, online
  const online = [...new Set(facts.cpusOnline)].sort((a, b) => a - b);
  const onlineText =
    online.length === 0
      ? "no CPU online in the facts (/sys/devices/system/cpu/online could not be read?)"
      : `this host has ${plural(online.length, "CPU")} ${formatCpuList(online)} online`;
  const cp = at(hp, "cpus");
  const c = host.cpus;
  const roles: { path: string; cpus: number[] }[] = [{ path: at(cp, "housekeeping"), cpus: c.housekeeping }];
  if (host.roles.includes("dut")) {
    if (c.vswitchMain !== undefined && !c.housekeeping.includes(c.vswitchMain)) {
      roles.push({ path: at(cp, "vswitchMain"), cpus: [c.vswitchMain] });
    }
    roles.push({ path: at(cp, "vswitch"), cpus: c.vswitch });
    c.vms.forEach((v, i) => roles.push({ path: at(at(cp, "vms"), i), cpus: v }));
  }
  if (host.roles.includes("tg")) roles.push({ path: at(cp, "tg"), cpus: c.tg });
  for (const r of roles) {
    const off = difference(r.cpus, online);
    if (off.length === 0) continue;
    error(
      r.path,
      `CPUs that are online ${on}`,
      `"${formatCpuList(r.cpus)}": ${plural(off.length, "CPU")} ${formatCpuList(off)} ${off.length === 1 ? "is" : "are"} not online (${onlineText})`,
      `use online CPUs of NUMA node ${host.numaNode} (lscpu -e), or bring ${off.length === 1 ? "it" : "them"} online: ` +
        `echo 1 > /sys/devices/system/cpu/cpu${off[0]}/online`,
    );
  }

  // NUMA node of the NIC
  const nodes = facts.numaNodes.length === 0 ? [0] : [...new Set(facts.numaNodes)].sort((a, b) => a - b);
  if (!nodes.includes(host.numaNode)) {
    const pci = host.nics.find((n) => n.kind === "pci");
    error(
      at(hp, "numaNode"),
      `a NUMA node ${on}`,
      `${host.numaNode} (this host has NUMA ${plural(nodes.length, "node")} ${formatCpuList(nodes)})`,
      `set numaNode to the NIC's node: cat /sys/bus/pci/devices/${pci?.kind === "pci" ? pci.pci : "<pci address>"}/numa_node` +
        " (-1 means the host has one node: 0)",
    );
  }

  // hugepages: the page size, then the memory for the pool
  const hpp = at(hp, "hugepages");
  const size = host.hugepages.size;
  const sizeKiB = KIB[size];
  const sizes = [...new Set(facts.hugepageSizesKiB)].sort((a, b) => a - b);
  const sizeOk = sizes.includes(sizeKiB);
  if (host.hugepages.count > 0 && !sizeOk) {
    const others = sizes.map(sizeName).filter((s): s is HugepageSize => s in KIB && s !== size);
    const alt = others[0];
    const altCount = alt ? Math.ceil((host.hugepages.count * sizeKiB) / KIB[alt]) : 0;
    error(
      at(hpp, "size"),
      `a hugepage size the kernel ${on} offers (/sys/kernel/mm/hugepages)`,
      `"${size}" (${sizes.length ? `this host offers ${sizes.map(sizeName).join(", ")} pages` : "this host offers no hugepages"})`,
      alt
        ? `use size: ${alt} with count: ${altCount} (the same memory)` +
            (size === "1G"
              ? ", or enable 1G pages (CPU flag pdpe1gb; hugepagesz=1G on the kernel command line)"
              : "")
        : "use a kernel with hugetlbfs (CONFIG_HUGETLBFS) and hugepages enabled",
    );
  }
  if (host.hugepages.count > 0 && sizeOk) {
    const pageMiB = HUGEPAGE_MIB[size];
    const headroom = opts.headroomMiB ?? HUGEPAGE_HEADROOM_MIB;
    const free = Math.max(0, facts.hugepagesFreeBySizeKiB[String(sizeKiB)] ?? 0);
    const held = Math.max(0, opts.heldPages ?? 0);
    const needMiB = host.hugepages.count * pageMiB;
    const poolMiB = (free + held) * pageMiB;
    const canGive = Math.max(0, facts.memAvailableMiB - headroom) + poolMiB;
    const neverFits = needMiB + headroom > facts.memTotalMiB;
    if (needMiB > canGive) {
      const parts = [`MemAvailable ${facts.memAvailableMiB} MiB - ${headroom} MiB headroom`];
      if (free > 0) parts.push(`${free} free ${size} pages in the pool (${free * pageMiB} MiB)`);
      if (held > 0) parts.push(`${held} pages this stack holds (${held * pageMiB} MiB)`);
      error(
        at(hpp, "count"),
        `a hugepage pool ${on} that leaves ${headroom} MiB outside it for the kernel, sshd and the processes' own memory`,
        `${host.hugepages.count} x ${size} = ${needMiB} MiB; the host can give ${canGive} MiB (${parts.join(" + ")})` +
          (neverFits ? `, and it has ${facts.memTotalMiB} MiB of RAM in all` : ""),
        `lower hugepages.count to at most ${Math.floor(canGive / pageMiB)} (with vms.memoryMiB / vswitch.memoryMiB)` +
          (neverFits
            ? ""
            : ", free memory on the host, or reserve the pages at boot (hugepages= on the kernel command line)"),
      );
    }
  }

  // pci ports
  const present = new Set(facts.pciAddresses.map(pciKey));
  host.nics.forEach((n, j) => {
    if (n.kind !== "pci" || present.has(pciKey(n.pci))) return;
    error(
      at(at(at(hp, "nics"), j), "pci"),
      `the PCI address of a device ${on}`,
      `"${n.pci}" (not among the host's ${facts.pciAddresses.length} PCI ${plural(facts.pciAddresses.length, "device")})`,
      "find the port's address with lspci -D | grep -i ethernet (or ls /sys/class/net/<if>/device -l) and set it",
    );
  });
  return errors;
}
