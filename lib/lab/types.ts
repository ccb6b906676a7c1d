/**
 * The lab model: one stack config, validated and with every default filled in.
 * Field comments give the config key (under the `vhost-perf-lab:` namespace) and meaning.
 */
import type { Secret } from "./secret";

export const PROFILES = ["csit", "local"] as const;
/** `csit`: a real lab, CSIT defaults. `local`: this machine is the lab (DESIGN.md §4). */
export type Profile = (typeof PROFILES)[number];

export const HOST_ROLES = ["dut", "tg"] as const;
export type HostRole = (typeof HOST_ROLES)[number];

export const HUGEPAGE_SIZES = ["2M", "1G"] as const;
export type HugepageSize = (typeof HUGEPAGE_SIZES)[number];
export const HUGEPAGE_MIB: Record<HugepageSize, number> = { "2M": 2, "1G": 1024 };

/** DUT tunings of CSIT (Ansible role + grub), DESIGN.md §3. */
export const TUNINGS = [
  "isolcpus", // isolcpus, nohz_full, rcu_nocbs = every CPU but housekeeping (kernel cmdline)
  "kernel-args", // tuning.kernelArgs on the kernel cmdline (cstates, iommu, watchdogs, ...)
  "hugepages", // 2M/1G pools and their hugetlbfs mounts
  "sysctl", // vm.max_map_count, vm.swappiness, kernel.shmmax, kernel.watchdog_cpumask, ...
  "cpu-governor", // scaling governor "performance"
  "irqbalance", // irqbalance banned from every non-housekeeping CPU
  "turbo-off", // turbo boost off
] as const;
export type TuningName = (typeof TUNINGS)[number];
/** Tunings that change the kernel command line and so only take effect after a reboot. */
export const CMDLINE_TUNINGS: readonly TuningName[] = ["isolcpus", "kernel-args"];

export const ACCELS = ["kvm", "tcg", "auto"] as const;
export type Accel = (typeof ACCELS)[number];

export const VSWITCH_KINDS = ["testpmd", "vpp", "ovs-dpdk"] as const;
export type VswitchKind = (typeof VSWITCH_KINDS)[number];

export const TG_KINDS = ["trex", "trafgen"] as const;
export type TgKind = (typeof TG_KINDS)[number];

export const CFS_POLICIES = ["cfs", "cfsrr1"] as const;
export type CfsPolicy = (typeof CFS_POLICIES)[number];

export const TEST_TYPES = ["mrr", "ndrpdr"] as const;
export type TestType = (typeof TEST_TYPES)[number];

/** Frame size in bytes (incl. FCS), or CSIT's IMIX_v4_1 (28x64 + 16x570 + 4x1518). */
export type Frame = number | "imix";

/** Guest image contents the seed requires (plus the workload's application). */
export const IMAGE_REQUIREMENTS = [
  "qemu-guest-agent",
  "sshd",
  "bridge-utils",
  "virtio",
  "sudo-nopasswd", // guest user has NOPASSWD sudo
  "agent-on-ttyS1", // agent on isa-serial /dev/ttyS1 (ttyS0 is the console)
  "nic-naming", // e1000 -> mgmt<n>, virtio-net -> virtio<n>
  "testpmd",
  "l3fwd",
] as const;
export type ImageRequirement = (typeof IMAGE_REQUIREMENTS)[number];

export interface Lab {
  /** where the config came from (file name or "pulumi config") */
  source: string;
  /**
   * the Pulumi stack name ([a-z0-9][a-z0-9-]{0,30}): everything the stack creates on a host carries
   * it (run dir /run/vhost-perf-lab/<stack>, `{stack}` in vms.socketTemplate)
   */
  stack: string;
  /** `lab.name` */
  name: string;
  /** `lab.profile`: which defaults apply */
  profile: Profile;
  hosts: Host[];
  tuning: Tuning;
  qemu: Qemu;
  image: Image;
  vswitch: Vswitch;
  vms: Vms;
  tg: Tg;
  matrix: Matrix;
}

export interface Host {
  name: string;
  /** sorted: "dut" before "tg"; the local lab's one host carries both */
  roles: HostRole[];
  ssh: Ssh;
  /** NUMA node of the NIC; CPUs and hugepages are taken from it */
  numaNode: number;
  cpus: CpuPlan;
  hugepages: Hugepages;
  nics: Nic[];
}

export interface Ssh {
  host: string;
  port: number;
  /** root or a user with NOPASSWD sudo (commands get no PTY) */
  user: string;
  privateKey: KeyRef;
  /** pinned host key; never trust-on-first-use */
  hostKey: HostKeyRef;
  /** the project's own loopback sshd (local lab): started by the program, keys in its state dir */
  managed: boolean;
  /**
   * Managed only: the sshd runs inside this network namespace of the machine, a host of its own
   * (the local lab's TG server). `host` is its address on the management cable, a veth pair whose
   * machine end gets the address below it in the same /30.
   */
  netns?: string;
}

/** A private key: a Pulumi secret, or a file on the machine running Pulumi (read at deploy time). */
export type KeyRef = { kind: "secret"; secret: Secret } | { kind: "file"; path: string };

/**
 * The pinned host key: the public key line, normalized to "<type> <base64>" (comment dropped) by
 * parseHostKey (hostKey.ts), or a .pub file on the machine running Pulumi (the managed sshd's;
 * its text must pass parseHostKey too).
 */
export type HostKeyRef = { kind: "key"; key: string } | { kind: "file"; path: string };

/** CPU roles of one host, as sorted CPU id lists. */
export interface CpuPlan {
  /** logical CPUs of the host: ids 0..count-1 */
  count: number;
  /** SMT siblings per physical core (test names count physical cores: "1c") */
  threadsPerCore: number;
  /** CPUs left to the OS and the control path (sshd, agents, the benchmark's SSH); never SCHED_RR */
  housekeeping: number[];
  /** vswitch main/control thread (DUT); defaults to the first housekeeping CPU */
  vswitchMain: number | undefined;
  /** vswitch data-plane workers (DUT) */
  vswitch: number[];
  /** per VM: the CPUs its vCPU threads are pinned to (DUT) */
  vms: number[][];
  /** traffic generator threads (TG) */
  tg: number[];
  /** allow roles to share CPUs (tiny hosts such as the local lab); housekeeping still never runs RR pollers */
  shared: boolean;
}

export interface Hugepages {
  size: HugepageSize;
  count: number;
}

export type Nic = PciNic | VethNic;

export interface PciNic {
  kind: "pci";
  name: string;
  /** full PCI address, lower case: 0000:18:00.0 */
  pci: string;
  /** NIC model tag as CSIT writes it in suite names: x710, xxv710, xl710, e810cq, ... */
  model: string;
  speedGbps: number;
  /** driver the port is bound to for DPDK */
  driver: string;
  mtu: number;
}

/** A veth pair: `ifname` on the host (the vswitch's af_packet port), `peer` in `netns` (the TG side). */
export interface VethNic {
  kind: "veth";
  name: string;
  ifname: string;
  peer: string;
  netns: string;
  mtu: number;
}

export interface Tuning {
  apply: TuningName[];
  /** extra kernel arguments for "kernel-args" (isolcpus/nohz_full/rcu_nocbs come from the CPU plan) */
  kernelArgs: string[];
  /** a reboot is only done when allowed and the kernel cmdline differs; the host is waited for */
  reboot: { allowed: boolean; timeoutS: number };
}

export interface Qemu {
  /** upstream version, "7.2" or "7.2.0" */
  version: string;
  source: QemuSource;
  /** directory of *.patch files applied in order, relative to the project root */
  patchDir: string | undefined;
  configureFlags: string[];
  /** install prefix on the DUT */
  prefix: string;
  accel: Accel;
}

export type QemuSource =
  | { kind: "tarball"; url: string; sha256: string }
  /** `apt-get source <package>=<version>` from a deb-src line for `suite` (apt checks the signatures) */
  | { kind: "debian"; package: string; suite: string; version: string }
  /** a tarball on the machine running Pulumi, uploaded to the DUT */
  | { kind: "local"; path: string; sha256: string };

export interface Image {
  /** image path on the DUT */
  path: string;
  format: "qcow2" | "raw";
  source: ImageSource;
  user: { name: string; password: Secret };
  requirements: ImageRequirement[];
}

export type ImageSource =
  | { kind: "build"; suite: string }
  | { kind: "url"; url: string; sha256: string }
  | { kind: "local"; path: string; sha256: string | undefined };

export interface TestpmdOptions {
  forwardMode: "io" | "mac";
  burst: number;
  rxd: number;
  txd: number;
  mbufs: number;
}
export interface VppOptions {
  /** l2xc: cross-connect (l2xcbase); l2bd: bridge domain with MAC learning (l2bdbasemaclrn) */
  mode: "l2xc" | "l2bd";
  /** startup.conf buffers { buffers-per-numa } */
  buffers: number;
  /** startup.conf dpdk { dev <pci> { num-rx-queues } } */
  rxQueues: number;
  /** startup.conf dpdk { uio-driver }; the DUT's PCI ports are bound to it */
  uioDriver: "vfio-pci" | "uio_pci_generic";
  /** FD.io's package version of vpp, vpp-plugin-core, vpp-plugin-dpdk, e.g. "24.10-release" */
  version: string;
  /** where VPP comes from on the DUT */
  install: VppInstall;
  /** startup.conf dpdk { no-multi-seg } (CSIT sets it) */
  noMultiSeg: boolean;
}

/**
 * VPP on the DUT: already installed (the packages' version is checked), or installed from FD.io's
 * apt repository (packagecloud), whose signing key is checked against a pinned fingerprint.
 */
export type VppInstall =
  | { kind: "preinstalled" }
  | {
      kind: "repository";
      /** apt repository base, e.g. https://packagecloud.io/fdio/2410/debian */
      url: string;
      /** distribution codename, e.g. bookworm */
      suite: string;
      component: string;
      /** the repository's signing key (ASCII armored or binary) */
      keyUrl: string;
      /** its fingerprint, 40 hex digits (upper case, no spaces) */
      keyFingerprint: string;
    };
export interface OvsDpdkOptions {
  rxQueues: number;
}

export type Vswitch =
  | { kind: "testpmd"; memoryMiB: number; options: TestpmdOptions }
  | { kind: "vpp"; memoryMiB: number; options: VppOptions }
  | { kind: "ovs-dpdk"; memoryMiB: number; options: OvsDpdkOptions };

export type Workload =
  { kind: "testpmd"; forwardMode: "io" | "mac"; burst: number; rxd: number; txd: number } | { kind: "l3fwd" };

/** How the VMs are launched: QEMU directly (scripts/vm.sh) or as libvirt domains (scripts/vm-libvirt.sh). */
export const VM_BACKENDS = ["qemu", "libvirt"] as const;
export type VmBackend = (typeof VM_BACKENDS)[number];

export interface Vms {
  /** VM launcher; default qemu */
  backend: VmBackend;
  /** VMs per DUT */
  count: number;
  vcpus: number;
  memoryMiB: number;
  /** queue pairs per vhost-user NIC (mq=on,vectors=2q+2 when > 1) */
  queues: number;
  /** MSI-X on the virtio-net devices (false = vectors=0, the no-patch workaround for QEMU 7.2 + TCG) */
  msix: boolean;
  /** template with {vm} (1-based), {n} (1 or 2) and {stack}; undefined when `sockets` was given explicitly */
  socketTemplate: string | undefined;
  /** resolved: sockets[vm][0..1] */
  sockets: string[][];
  /** VM i's management ssh is forwarded from DUT port sshPortBase + i */
  sshPortBase: number;
  /** hugepages inside the guest, for its DPDK workload */
  guestHugepages: Hugepages;
  workload: Workload;
}

export interface TrexOptions {
  version: string;
  installDir: string;
  limitMemoryMiB: number;
  mbufFactor: number;
  /** worker threads per port pair (trex_cfg `c`); master and latency threads take two more TG CPUs */
  workers: number;
  /** TRex's release tarball to install into installDir; unset = installDir must already hold it */
  tarball?: { url: string; sha256: string };
}
export interface TrafgenOptions {
  /** highest rate trafgen keeps accurately on this host; the NDR/PDR search's default max load */
  maxRatePps: number;
}

export type Tg =
  | { kind: "trex"; host: string; options: TrexOptions }
  | { kind: "trafgen"; host: string; options: TrafgenOptions };

export interface MrrSettings {
  trialDurationS: number;
  trials: number;
}

export interface NdrPdrSettings {
  ndrLossRatio: number;
  pdrLossRatio: number;
  exceedRatio: number;
  relativeWidth: number;
  trialDurationS: number;
  durationSumS: number;
  timeLimitS: number;
  minLoadPps: number;
  /** per direction; undefined = the NIC line rate (or trafgen's maxRatePps) */
  maxLoadPps: number | undefined;
}

export interface Matrix {
  vringSizes: number[];
  cfsPolicies: CfsPolicy[];
  frames: Frame[];
  tests: TestType[];
  mrr: MrrSettings;
  ndrpdr: NdrPdrSettings;
}
