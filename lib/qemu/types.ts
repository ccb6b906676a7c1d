/**
 * The input of the QEMU argument builder: one vhost-user VM, CSIT style (DESIGN.md §3).
 * Pure data; `validateVmSpec` checks it and `resolveVmSpec` fills the defaults.
 */

export const QEMU_ACCELS = ["kvm", "tcg"] as const;
/** `kvm`: -enable-kvm -cpu host. `tcg`: software emulation (this machine, DESIGN.md §4). */
export type QemuAccel = (typeof QEMU_ACCELS)[number];

/** One vhost-user virtio-net NIC. QEMU is the socket server; the vswitch connects as client. */
export interface VhostUserNicSpec {
  /** unix socket QEMU listens on (absolute, at most 107 bytes: sun_path) */
  socketPath: string;
  /** default 52:54:00:00:<vm index hex>:<nic number hex> (nic number counts from 1) */
  mac?: string;
  /** rx_queue_size and tx_queue_size of the device: power of two in 256..1024; default 1024 */
  queueSize?: number;
  /** queue pairs (multi-queue when > 1: mq=on,vectors=2q+2); default 1 */
  queues?: number;
  /**
   * MSI-X on (default). false gives `vectors=0` (legacy INTx): the no-patch workaround for the
   * QEMU 7.2 vhost-user + MSI-X crash under TCG (DESIGN.md §4).
   */
  msix?: boolean;
}

/** The management NIC: e1000 on QEMU user networking. */
export interface MgmtNicSpec {
  /** forward 127.0.0.1:<port> on the host to the guest's sshd (port 22); none when omitted */
  sshHostPort?: number;
  /** default 52:54:00:00:<vm index hex>:ff */
  mac?: string;
}

export interface VmSpec {
  /** VM name: `-name`, file names in runDir; letters, digits, `_.-` */
  name: string;
  /** VM number 0..255: the fifth MAC octet (CSIT's qemu_id) */
  index: number;
  /** absolute path of qemu-system-x86_64 (argv[0]) */
  qemuBinary: string;
  accel: QemuAccel;
  /** CPU model under TCG (KVM always uses `host`); default EPYC */
  cpuModel?: string;
  vcpus: number;
  memoryMiB: number;
  /** hugetlbfs mount backing the guest RAM (`mem-path`), e.g. /dev/hugepages */
  hugepagesPath: string;
  /** page size of that mount in MiB (2 or 1024); memoryMiB must be a multiple; default 2 */
  hugepageSizeMiB?: number;
  /** touch all guest RAM at start (no page faults later, fails early); default true */
  prealloc?: boolean;
  /** the VM's qcow2 overlay (never the base image) */
  diskImage: string;
  mgmt: MgmtNicSpec;
  vhostUser: VhostUserNicSpec[];
  /** directory for the QMP/agent/console sockets, the pidfile and the console log */
  runDir: string;
  /**
   * firmware/ROM directories (`-L`, searched in order) for a QEMU installed without its blobs,
   * e.g. ["/usr/share/seabios", "/usr/lib/ipxe/qemu", "/usr/share/qemu"]; none by default
   */
  firmwareDirs?: string[];
  /** appended verbatim at the end (one argv element each) */
  extraArgs?: string[];
}

/** A VhostUserNicSpec with every default filled in and its derived names. */
export interface ResolvedVhostUserNic {
  /** 1-based NIC number: char<n>, vhost<n>, device id nic<n> */
  n: number;
  socketPath: string;
  mac: string;
  queueSize: number;
  queues: number;
  msix: boolean;
  chardevId: string;
  netdevId: string;
  deviceId: string;
  /** QOM path of its virtio device, for QMP x-query-virtio-queue-status */
  qomPath: string;
}

/** Files of one VM in runDir. */
export interface VmPaths {
  runDir: string;
  qmpSocket: string;
  qgaSocket: string;
  consoleSocket: string;
  consoleLog: string;
  pidfile: string;
}

export interface ResolvedVmSpec {
  name: string;
  index: number;
  qemuBinary: string;
  accel: QemuAccel;
  cpuModel: string;
  vcpus: number;
  memoryMiB: number;
  hugepagesPath: string;
  hugepageSizeMiB: number;
  prealloc: boolean;
  diskImage: string;
  mgmt: { sshHostPort: number | undefined; mac: string };
  vhostUser: ResolvedVhostUserNic[];
  paths: VmPaths;
  firmwareDirs: string[];
  extraArgs: string[];
}

/** One readable group of the argv (machine, memory, ...), in the order they are emitted. */
export interface ArgGroup {
  name: ArgGroupName;
  args: string[];
}

export const ARG_GROUPS = [
  "machine", // accelerator, machine type, CPU model, firmware directories
  "identity", // -name with debug-threads, -smp
  "memory", // hugepage backend shared with the vswitch, NUMA node, -m
  "defaults", // -nodefaults, -display none, -no-user-config
  "disk", // the overlay
  "mgmt", // e1000 + user net
  "vhost-user", // chardev + netdev + virtio-net-pci per NIC
  "serial", // ttyS0 console (logged), ttyS1 guest agent
  "control", // QMP, -daemonize, -pidfile
  "extra", // spec.extraArgs
] as const;
export type ArgGroupName = (typeof ARG_GROUPS)[number];
