/**
 * Defaults. CSIT values where CSIT has them (DESIGN.md §3, the seed); the local lab's own values
 * come from what ran on this machine (DESIGN.md §4). Anything else is marked "project default".
 */
import { Secret } from "./secret";
import type {
  Accel,
  ImageRequirement,
  Matrix,
  OvsDpdkOptions,
  Profile,
  TestpmdOptions,
  TgKind,
  TrexOptions,
  TuningName,
  VppOptions,
  VswitchKind,
} from "./types";
import { IMAGE_REQUIREMENTS, TUNINGS } from "./types";

/** CSIT's DUT kernel arguments besides isolcpus/nohz_full/rcu_nocbs (which follow the CPU plan). */
export const CSIT_KERNEL_ARGS = [
  "intel_idle.max_cstate=1",
  "processor.max_cstate=1",
  "intel_pstate=disable",
  "intel_iommu=on",
  "iommu=pt",
  "nmi_watchdog=0",
  "audit=0",
  "hpet=disable",
  "mce=off",
  "numa_balancing=disable",
  "tsc=reliable",
  "nosoftlockup",
];

/** Kernel arguments derived from the CPU plan; writing them by hand is refused. */
export const DERIVED_KERNEL_ARGS = ["isolcpus", "nohz_full", "rcu_nocbs"];

/** The seed's guest image: /var/lib/vm/vhost-nested.img, user cisco/cisco with NOPASSWD sudo. */
export const DEFAULT_IMAGE_PATH = "/var/lib/vm/vhost-nested.img";
export const DEFAULT_GUEST_USER = "cisco";
export const defaultGuestPassword = (): Secret => Secret.plain("cisco");
/** Must be present in every image (the seed); testpmd/l3fwd are required by the workload chosen. */
export const SEED_IMAGE_REQUIREMENTS: readonly ImageRequirement[] = IMAGE_REQUIREMENTS.filter(
  (r) => r !== "testpmd" && r !== "l3fwd",
);

/** Managed loopback sshd (local lab): keys live in the stack's state dir (project default). */
export const MANAGED_SSH_DIR = ".lab/sshd";
export const MANAGED_PRIVATE_KEY = `${MANAGED_SSH_DIR}/id_ed25519`;
export const MANAGED_HOST_KEY = `${MANAGED_SSH_DIR}/ssh_host_ed25519_key.pub`;

/** QEMU virtio-net rx_queue_size/tx_queue_size limits. */
export const VRING_MIN = 256;
export const VRING_MAX = 1024;

/** Memory a guest keeps for its own kernel and userland, outside its DPDK hugepages (project default). */
export const GUEST_OS_RESERVE_MIB = 512;

/** NIC speeds by CSIT model tag, used when speedGbps is not given. */
export const NIC_SPEEDS: Record<string, number> = {
  x520: 10,
  x553: 10,
  x710: 10,
  xxv710: 25,
  xl710: 40,
  e810xxv: 25,
  e810cq: 100,
  cx556a: 100,
  cx6dx: 100,
};

export const IMIX_MEAN_BYTES = 353.83;

export interface ProfileDefaults {
  tuning: { apply: TuningName[]; kernelArgs: string[]; rebootAllowed: boolean; rebootTimeoutS: number };
  qemu: {
    configureFlags: string[];
    accel: Accel;
    version?: string;
    source?: { kind: "debian"; package: string; suite: string; version: string };
    patchDir?: string;
  };
  vswitchKind: VswitchKind;
  vswitchMemoryMiB: Record<VswitchKind, number>;
  testpmd: TestpmdOptions;
  vpp: VppOptions;
  ovs: OvsDpdkOptions;
  vms: {
    count: number;
    vcpus: number;
    memoryMiB: number;
    queues: number;
    sshPortBase: number;
    guestHugepages: number;
  };
  tgKind: TgKind;
  trex: Omit<TrexOptions, "workers">;
  trafgenMaxRatePps: number;
  matrix: Matrix;
}

/**
 * Socket path templates per vswitch: CSIT's VPP paths; for the others the project's own, in the
 * stack's run dir (/run/vhost-perf-lab/<stack>, removed by the stack's last teardown).
 */
export const SOCKET_TEMPLATES: Record<VswitchKind, string> = {
  vpp: "/run/vpp/sock-{vm}-{n}",
  testpmd: "/run/vhost-perf-lab/{stack}/vhu-{vm}-{n}.sock",
  "ovs-dpdk": "/run/vhost-perf-lab/{stack}/vhu-{vm}-{n}.sock",
};

/** FD.io's VPP release the project pins by default (vhost-user is a plugin from 23.10 on). */
export const VPP_DEFAULT_VERSION = "24.10-release";

/** The stack name when the caller gives none and the source is not a Pulumi.<stack>.yaml (tests). */
export const DEFAULT_STACK = "dev";

const CSIT: ProfileDefaults = {
  tuning: { apply: [...TUNINGS], kernelArgs: CSIT_KERNEL_ARGS, rebootAllowed: false, rebootTimeoutS: 900 },
  qemu: { configureFlags: ["--target-list=x86_64-softmmu"], accel: "kvm" },
  vswitchKind: "vpp",
  vswitchMemoryMiB: { testpmd: 1024, vpp: 1024, "ovs-dpdk": 1024 }, // project default
  // guest/host testpmd: CSIT's --forward-mode=io --burst=64 --txd=1024 --rxd=1024
  testpmd: { forwardMode: "io", burst: 64, rxd: 1024, txd: 1024, mbufs: 16384 },
  // VPP: CSIT's l2xc, one rx queue, vfio-pci, no-multi-seg; the version pin is a project default
  vpp: {
    mode: "l2xc",
    buffers: 16384,
    rxQueues: 1,
    uioDriver: "vfio-pci",
    version: VPP_DEFAULT_VERSION,
    install: { kind: "preinstalled" },
    noMultiSeg: true,
  },
  ovs: { rxQueues: 1 },
  // CSIT: 4096 MB per VM; 1vm/1c = 3 vCPUs. Guest hugepages: project default (1 GiB of 2M pages).
  vms: { count: 1, vcpus: 3, memoryMiB: 4096, queues: 1, sshPortBase: 10020, guestHugepages: 512 },
  tgKind: "trex",
  // CSIT: TRex 3.03 under /opt/trex-core, --mbuf-factor 32; limit_memory is a project default
  trex: { version: "3.03", installDir: "/opt/trex-core", limitMemoryMiB: 4096, mbufFactor: 32 },
  trafgenMaxRatePps: 300000,
  matrix: {
    vringSizes: [1024],
    cfsPolicies: ["cfs", "cfsrr1"],
    frames: [64, 1518, 9000, "imix"],
    tests: ["mrr", "ndrpdr"],
    mrr: { trialDurationS: 1, trials: 10 },
    ndrpdr: {
      ndrLossRatio: 0,
      pdrLossRatio: 0.005,
      exceedRatio: 0.5,
      relativeWidth: 0.005,
      trialDurationS: 1,
      durationSumS: 21,
      timeLimitS: 1200,
      minLoadPps: 9001,
      maxLoadPps: undefined,
    },
  },
};

/** This machine (DESIGN.md §4): 2 cores, no NICs, KVM unusable for stock kernels, Debian's QEMU 7.2. */
const LOCAL: ProfileDefaults = {
  // no reboot, no grub here: only the runtime tunings that work inside this machine
  tuning: {
    apply: ["hugepages", "sysctl", "irqbalance"],
    kernelArgs: [],
    rebootAllowed: false,
    rebootTimeoutS: 900,
  },
  qemu: {
    configureFlags: ["--target-list=x86_64-softmmu", "--disable-docs", "--enable-slirp"],
    accel: "auto",
    version: "7.2",
    source: { kind: "debian", package: "qemu", suite: "bookworm", version: "1:7.2+dfsg-7+deb12u18" },
    patchDir: "patches/qemu-7.2",
  },
  vswitchKind: "testpmd",
  vswitchMemoryMiB: { testpmd: 512, vpp: 512, "ovs-dpdk": 512 }, // --socket-mem 512 ran here
  testpmd: { forwardMode: "io", burst: 64, rxd: 1024, txd: 1024, mbufs: 16384 },
  vpp: { ...CSIT.vpp, uioDriver: "uio_pci_generic" },
  ovs: { rxQueues: 1 },
  vms: { count: 1, vcpus: 2, memoryMiB: 2048, queues: 1, sshPortBase: 10020, guestHugepages: 256 },
  tgKind: "trafgen",
  trex: CSIT.trex,
  // trafgen on veth kept rates within 0.5% up to ~300 kpps here (ceiling ~460 kpps)
  trafgenMaxRatePps: 300000,
  matrix: {
    vringSizes: [1024],
    cfsPolicies: ["cfs", "cfsrr1"],
    frames: [64],
    tests: ["mrr", "ndrpdr"],
    mrr: { trialDurationS: 1, trials: 3 },
    ndrpdr: { ...CSIT.matrix.ndrpdr, durationSumS: 5, timeLimitS: 180 },
  },
};

/** A fresh copy of the profile's defaults (callers may keep the arrays in a Lab). */
export function defaultsFor(profile: Profile): ProfileDefaults {
  return structuredClone(profile === "local" ? LOCAL : CSIT);
}
