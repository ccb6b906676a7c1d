/**
 * The input shape of the stack file: the key set of every map the validator (parse.ts) reads.
 * parse.ts takes its key lists from here, and the JSON Schema generator (schema/generate.ts)
 * builds the schema from the same lists, so a key added here shows up in both.
 */

export const TOP_KEYS = [
  "lab",
  "hosts",
  "tuning",
  "qemu",
  "image",
  "vswitch",
  "vms",
  "tg",
  "matrix",
] as const;

export const LAB_KEYS = ["name", "profile"] as const;
export const HOST_KEYS = ["name", "roles", "ssh", "numaNode", "cpus", "hugepages", "nics"] as const;
export const SSH_KEYS = ["host", "port", "user", "privateKey", "hostKey", "managed", "netns"] as const;
export const KEY_FILE_KEYS = ["file"] as const;
export const CPU_KEYS = [
  "count",
  "threadsPerCore",
  "housekeeping",
  "vswitchMain",
  "vswitch",
  "vms",
  "tg",
  "shared",
] as const;
export const HUGEPAGES_KEYS = ["size", "count"] as const;
export const NIC_KEYS = ["name", "pci", "veth", "model", "speedGbps", "driver", "mtu"] as const;
export const VETH_KEYS = ["ifname", "peer", "netns"] as const;
export const TUNING_KEYS = ["apply", "kernelArgs", "reboot"] as const;
export const REBOOT_KEYS = ["allowed", "timeoutS"] as const;
export const QEMU_KEYS = ["version", "source", "patchDir", "configureFlags", "prefix", "accel"] as const;
export const IMAGE_KEYS = ["path", "format", "source", "user", "requirements"] as const;
export const GUEST_USER_KEYS = ["name", "password"] as const;
export const VSWITCH_KEYS = ["kind", "memoryMiB", "options"] as const;
export const VSWITCH_OPTION_KEYS: Record<string, readonly string[]> = {
  testpmd: ["forwardMode", "burst", "rxd", "txd", "mbufs"],
  vpp: ["mode", "buffers", "rxQueues", "uioDriver", "version", "install", "noMultiSeg"],
  "ovs-dpdk": ["rxQueues"],
};
export const VPP_INSTALL_KEYS = ["kind", "url", "suite", "component", "keyUrl", "keyFingerprint"] as const;
export const VMS_KEYS = [
  "backend",
  "count",
  "vcpus",
  "memoryMiB",
  "queues",
  "msix",
  "socketTemplate",
  "sockets",
  "sshPortBase",
  "guestHugepages",
  "workload",
] as const;
export const TG_KEYS = ["kind", "host", "options"] as const;
export const TG_OPTION_KEYS: Record<string, readonly string[]> = {
  trex: ["version", "installDir", "limitMemoryMiB", "mbufFactor", "workers", "tarball"],
  trafgen: ["maxRatePps"],
};
export const TARBALL_KEYS = ["url", "sha256"] as const;
export const MATRIX_KEYS = ["vringSizes", "cfsPolicies", "frames", "tests", "mrr", "ndrpdr"] as const;
export const MRR_KEYS = ["trialDurationS", "trials"] as const;
export const NDRPDR_KEYS = [
  "ndrLossRatio",
  "pdrLossRatio",
  "exceedRatio",
  "relativeWidth",
  "trialDurationS",
  "durationSumS",
  "timeLimitS",
  "minLoadPps",
  "maxLoadPps",
] as const;

/** Maps with a `kind` and that kind's keys (readKinded in parse.ts). */
export const QEMU_SOURCE_KEYS = {
  tarball: ["url", "sha256"],
  debian: ["package", "suite", "version"],
  local: ["path", "sha256"],
} as const;
export const IMAGE_SOURCE_KEYS = {
  build: ["suite"],
  url: ["url", "sha256"],
  local: ["path", "sha256"],
} as const;
export const WORKLOAD_KEYS = { testpmd: ["forwardMode", "burst", "rxd", "txd"], l3fwd: [] } as const;
