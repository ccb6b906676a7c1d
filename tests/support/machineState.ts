// A snapshot of everything the lab may leave on this machine, to compare before `up` and
// after `destroy`. Build caches keyed by content (~/.cache/vhost-perf-lab,
// /var/cache/vhost-perf-lab) are deliberately not part of it: they are caches, not the lab.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { rtThreadsOf } from "./proc";

export interface MachineState {
  processes: string[];
  rtThreads: string[];
  sockets: string[];
  netns: string[];
  veths: string[];
  hugepages: Record<string, number>;
  hugetlbfsMounts: string[];
  files: string[];
  /** mounts of the lab (hugetlbfs anywhere, anything under the lab's dirs, the netns bind mounts) */
  mounts: string[];
  /** the steps' private directories (/tmp/vpl-step.*): none may outlive its step */
  stepDirs: string[];
  schedRtRuntimeUs: string;
  /** the sysctl keys the DUT tuning touches, and more of its kind */
  sysctl: Record<string, string>;
  /** default_smp_affinity and every IRQ's smp_affinity_list */
  irqAffinity: Record<string, string>;
  /** libvirt domains defined (/etc/libvirt/qemu/*.xml) or running (/run/libvirt/qemu/*.pid) */
  libvirtDomains: string[];
}

const SYSCTL_KEYS = [
  "vm.max_map_count",
  "vm.swappiness",
  "kernel.shmmax",
  "kernel.watchdog_cpumask",
  "kernel.randomize_va_space",
  "kernel.sched_rt_runtime_us",
];

function irqAffinity(): Record<string, string> {
  const out: Record<string, string> = { default: read("/proc/irq/default_smp_affinity").trim() };
  for (const irq of fs.readdirSync("/proc/irq").filter((d) => /^\d+$/.test(d))) {
    out[irq] = read(`/proc/irq/${irq}/smp_affinity_list`).trim();
  }
  return out;
}

const LAB_PROCESS =
  /^(qemu-system|dpdk-testpmd|trafgen|sshd-lab|ovs-vswitchd|ovsdb-server|libvirtd|virtlogd)/;
const LAB_PATHS = [
  "/var/lib/vm",
  "/var/lib/vhost-perf-lab",
  "/run/vhost-perf-lab",
  "/opt/vhost-perf-lab",
  "/etc/apt/sources.list.d/vhost-perf-lab-src.sources",
  path.join(os.homedir(), ".vhost-perf-lab", "stacks"),
];
const STACKS_DIR = path.join(os.homedir(), ".vhost-perf-lab", "stacks");

/**
 * What the stacks keep under ~/.vhost-perf-lab/stacks/<stack>/, except the result store
 * (results/): every benchmark run is kept there on purpose, across destroy (lib/results/store.ts).
 */
function stackEntries(dir: string): string[] {
  return fs.readdirSync(dir).flatMap((stack) => {
    const d = path.join(dir, stack);
    const inside = fs.statSync(d).isDirectory() ? fs.readdirSync(d).filter((f) => f !== "results") : [""];
    return inside.map((f) => (f ? `${d}/${f}` : d));
  });
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return "";
  }
}

function read(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/**
 * The lab's processes, and every SCHED_FIFO/SCHED_RR thread of the machine (kernel threads
 * included: the set must be the same before and after; a lab thread left RR shows up here).
 */
function labProcesses(): { procs: string[]; rt: string[] } {
  const procs: string[] = [];
  const rt: string[] = [];
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    const comm = read(`/proc/${pid}/comm`).trim();
    if (LAB_PROCESS.test(comm)) procs.push(`${pid}:${comm}`);
    for (const thread of rtThreadsOf([pid])) rt.push(`${thread}:${comm}`);
  }
  return { procs: procs.sort(), rt: rt.sort() };
}

export function snapshot(): MachineState {
  const { procs, rt } = labProcesses();
  const hugepages: Record<string, number> = {};
  for (const d of fs.readdirSync("/sys/kernel/mm/hugepages")) {
    hugepages[d] = Number(read(`/sys/kernel/mm/hugepages/${d}/nr_hugepages`).trim());
  }
  const libvirtFiles = (dir: string, ext: string): string[] =>
    fs.existsSync(dir)
      ? fs
          .readdirSync(dir)
          .filter((f) => f.endsWith(ext))
          .map((f) => `${dir}/${f}`)
      : [];
  return {
    libvirtDomains: [
      ...libvirtFiles("/etc/libvirt/qemu", ".xml"),
      ...libvirtFiles("/run/libvirt/qemu", ".pid"),
    ].sort(),
    processes: procs,
    rtThreads: rt,
    sockets: read("/proc/net/unix")
      .split("\n")
      .map((l) => l.trim().split(/\s+/)[7] ?? "")
      .filter((p) => /vhost-perf-lab|vhu|qga|qmp/.test(p))
      .sort(),
    netns: run("ip", ["netns", "list"])
      .split("\n")
      .map((l) => l.split(" ")[0] ?? "")
      .filter(Boolean)
      .sort(),
    veths: run("ip", ["-o", "link", "show", "type", "veth"])
      .split("\n")
      .map((l) => l.split(":")[1]?.trim().split("@")[0] ?? "")
      .filter(Boolean)
      .sort(),
    hugepages,
    hugetlbfsMounts: read("/proc/mounts")
      .split("\n")
      .filter((l) => l.split(" ")[2] === "hugetlbfs")
      .map((l) => l.split(" ")[1] ?? "")
      .sort(),
    files: LAB_PATHS.filter((p) => fs.existsSync(p)).flatMap((p) =>
      p === "/var/lib/vm"
        ? [p, ...fs.readdirSync(p).map((f) => `${p}/${f}`)]
        : p === STACKS_DIR
          ? stackEntries(p)
          : [p],
    ),
    mounts: read("/proc/mounts")
      .split("\n")
      .map((l) => l.split(" "))
      .filter(([, where, type]) => type === "hugetlbfs" || /vhost-perf-lab|^\/run\/netns/.test(where ?? ""))
      .map(([, where, type]) => `${where} ${type}`)
      .sort(),
    stepDirs: fs
      .readdirSync("/tmp")
      .filter((f) => f.startsWith("vpl-step."))
      .sort(),
    schedRtRuntimeUs: read("/proc/sys/kernel/sched_rt_runtime_us").trim(),
    sysctl: Object.fromEntries(
      SYSCTL_KEYS.map((k) => [
        k,
        read(`/proc/sys/${k.replace(/\./g, "/")}`)
          .trim()
          .replace(/\s+/g, " "),
      ]),
    ),
    irqAffinity: irqAffinity(),
  };
}
