/**
 * The QEMU command line of a vhost-user VM: the one place that knows the option set.
 * Follows CSIT's QemuUtils (DESIGN.md §3), grouped so each concern reads on its own.
 * The result is an argv (argv[0] = the binary), never a shell string.
 */
import { optValue } from "./names";
import { resolveVmSpec } from "./validate";
import type { ArgGroup, ResolvedVhostUserNic, ResolvedVmSpec, VmSpec } from "./types";

/**
 * Accelerator, machine and CPU.
 * - kvm: CSIT's set; `-cpu host` passes the host's features, `mem-merge=off` keeps KSM off guest RAM.
 * - tcg: multi-threaded TCG (one host thread per vCPU, so vCPUs can be pinned like KVM's), a
 *   named CPU model (EPYC ran here; `host` is KVM-only).
 * - `-L <dir>` per firmwareDirs: where a QEMU installed without blobs finds SeaBIOS and NIC ROMs.
 */
export function machineArgs(s: ResolvedVmSpec): string[] {
  const fw = s.firmwareDirs.flatMap((d) => ["-L", d]);
  if (s.accel === "kvm")
    return [...fw, "-enable-kvm", "-cpu", "host", "-machine", "pc,accel=kvm,usb=off,mem-merge=off"];
  return [...fw, "-accel", "tcg,thread=multi", "-cpu", s.cpuModel, "-machine", "pc,usb=off"];
}

/**
 * Name and topology. `debug-threads=on` names the vCPU threads "CPU <n>/KVM|TCG" so they can be
 * found in /proc/<pid>/task/.../comm, pinned and given SCHED_RR (cfsrr1).
 */
export function identityArgs(s: ResolvedVmSpec): string[] {
  const n = s.vcpus;
  return ["-name", `${s.name},debug-threads=on`, "-smp", `${n},sockets=1,cores=${n},threads=1`];
}

/**
 * Guest RAM in a hugetlbfs file mapped `share=on`: vhost-user needs the backend (vswitch) to map
 * the same memory. `prealloc=on` touches every page at start, so a short pool fails at launch
 * instead of faulting later in the data path. One NUMA node backed by that object.
 */
export function memoryArgs(s: ResolvedVmSpec): string[] {
  const props = [
    "memory-backend-file",
    "id=mem",
    `size=${s.memoryMiB}M`,
    `mem-path=${optValue(s.hugepagesPath)}`,
    "share=on",
    ...(s.prealloc ? ["prealloc=on"] : []),
  ];
  return ["-object", props.join(","), "-m", `${s.memoryMiB}M`, "-numa", "node,memdev=mem"];
}

/**
 * No default devices (no VGA, no default serial/monitor/NIC), no host config files, no display.
 * Not `-nographic`: it puts a serial port and the monitor on stdio, which fights the explicit
 * serials below and `-daemonize`.
 */
export function defaultsArgs(): string[] {
  return ["-nodefaults", "-no-user-config", "-display", "none"];
}

/**
 * The VM's own qcow2 overlay on virtio-blk. `cache=unsafe`: the overlay is thrown away at stop
 * (the base image is its read-only backing file), so guest flushes need not reach the host disk;
 * under TCG this is a measurable part of boot time, and disk I/O is no part of the measurement.
 */
export function diskArgs(s: ResolvedVmSpec): string[] {
  return ["-drive", `file=${optValue(s.diskImage)},format=qcow2,if=virtio,cache=unsafe`];
}

/** Management NIC: e1000 (guest name mgmt0) on user networking, ssh forwarded from 127.0.0.1. */
export function mgmtArgs(s: ResolvedVmSpec): string[] {
  const fwd = s.mgmt.sshHostPort !== undefined ? `,hostfwd=tcp:127.0.0.1:${s.mgmt.sshHostPort}-:22` : "";
  return ["-netdev", `user,id=mgmt${fwd}`, "-device", `e1000,id=mgmtnic,netdev=mgmt,mac=${s.mgmt.mac}`];
}

/** The -device properties of one vhost-user virtio-net NIC (CSIT's offload-off set). */
export function virtioNetDeviceProps(nic: ResolvedVhostUserNic): string {
  const props = [
    "virtio-net-pci",
    `id=${nic.deviceId}`,
    `netdev=${nic.netdevId}`,
    `mac=${nic.mac}`,
    `rx_queue_size=${nic.queueSize}`,
    `tx_queue_size=${nic.queueSize}`,
    "csum=off",
    "gso=off",
    "guest_tso4=off",
    "guest_tso6=off",
    "guest_ecn=off",
  ];
  if (nic.queues > 1) props.push("mq=on");
  // vectors=0: no MSI-X (the QEMU 7.2 + TCG crash workaround); multi-queue needs 2q+2 vectors
  if (!nic.msix) props.push("vectors=0");
  else if (nic.queues > 1) props.push(`vectors=${2 * nic.queues + 2}`);
  return props.join(",");
}

/**
 * Per vhost-user NIC: QEMU is the socket server (`server=on,wait=off`: start without waiting for
 * the vswitch, which connects as client and may reconnect), a vhost-user netdev, a virtio-net-pci.
 */
export function vhostUserArgs(s: ResolvedVmSpec): string[] {
  return s.vhostUser.flatMap((nic) => [
    "-chardev",
    `socket,id=${nic.chardevId},path=${optValue(nic.socketPath)},server=on,wait=off`,
    "-netdev",
    `vhost-user,id=${nic.netdevId},chardev=${nic.chardevId},queues=${nic.queues}`,
    "-device",
    virtioNetDeviceProps(nic),
  ]);
}

/**
 * Two ISA serial ports in this order: ttyS0 = console (a socket one can attach to, everything
 * also logged to the console log), ttyS1 = the guest agent (qemu-ga --method=isa-serial).
 */
export function serialArgs(s: ResolvedVmSpec): string[] {
  const p = s.paths;
  return [
    "-chardev",
    `socket,id=console,path=${optValue(p.consoleSocket)},server=on,wait=off,logfile=${optValue(p.consoleLog)}`,
    "-serial",
    "chardev:console",
    "-chardev",
    `socket,id=qga,path=${optValue(p.qgaSocket)},server=on,wait=off`,
    "-serial",
    "chardev:qga",
  ];
}

/** QMP on a unix socket; QEMU daemonizes once initialised and writes its pid. */
export function controlArgs(s: ResolvedVmSpec): string[] {
  const p = s.paths;
  return [
    "-chardev",
    `socket,id=qmp,path=${optValue(p.qmpSocket)},server=on,wait=off`,
    "-mon",
    "chardev=qmp,mode=control",
    "-daemonize",
    "-pidfile",
    p.pidfile,
  ];
}

/** The option set as named groups, in argv order (argv[0] not included). */
export function qemuArgGroups(spec: VmSpec): ArgGroup[] {
  const s = resolveVmSpec(spec);
  return [
    { name: "machine", args: machineArgs(s) },
    { name: "identity", args: identityArgs(s) },
    { name: "memory", args: memoryArgs(s) },
    { name: "defaults", args: defaultsArgs() },
    { name: "disk", args: diskArgs(s) },
    { name: "mgmt", args: mgmtArgs(s) },
    { name: "vhost-user", args: vhostUserArgs(s) },
    { name: "serial", args: serialArgs(s) },
    { name: "control", args: controlArgs(s) },
    { name: "extra", args: s.extraArgs },
  ];
}

/** The full argv: [qemuBinary, ...options]. Throws QemuSpecError for an invalid spec. */
export function buildQemuArgv(spec: VmSpec): string[] {
  return [spec.qemuBinary, ...qemuArgGroups(spec).flatMap((g) => g.args)];
}

const shellQuote = (a: string): string =>
  /^[A-Za-z0-9_./:=,@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;

/**
 * The command for people (logs, docs): one group per line, shell-quoted for reading.
 * Never executed: scripts get the argv itself (see encodeArgv).
 */
export function formatQemuCommand(spec: VmSpec): string {
  const lines = [shellQuote(spec.qemuBinary)];
  for (const g of qemuArgGroups(spec)) {
    if (g.args.length === 0) continue;
    const parts: string[] = [];
    for (const a of g.args) {
      if (a.startsWith("-") && parts.length > 0) {
        lines.push(`  ${parts.join(" ")}`);
        parts.length = 0;
      }
      parts.push(shellQuote(a));
    }
    if (parts.length > 0) lines.push(`  ${parts.join(" ")}`);
  }
  return lines.join(" \\\n");
}
