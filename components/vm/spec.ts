// The typed VM spec of VM i on a DUT: the one input both VM backends build from (the QEMU argv in
// lib/qemu, the libvirt domain in lib/libvirt).
import type { VmSpec } from "../../lib/qemu";
import type { VmArgs } from "./kind";

export function vmSpecOf(
  args: VmArgs,
  name: string,
  runDir: string,
  resolved: { qemuBinary: string; accel: "kvm" | "tcg"; hugepagesMount: string },
): VmSpec {
  const i = args.index;
  return {
    name,
    index: i + 1,
    qemuBinary: resolved.qemuBinary,
    accel: resolved.accel,
    vcpus: args.vms.vcpus,
    memoryMiB: args.vms.memoryMiB,
    hugepagesPath: resolved.hugepagesMount || "/dev/hugepages",
    hugepageSizeMiB: args.host.hugepages.size === "1G" ? 1024 : 2,
    diskImage: `${runDir}/overlay.qcow2`,
    mgmt: { sshHostPort: args.vms.sshPortBase + i + 1 },
    vhostUser: (args.vms.sockets[i] ?? []).map((socketPath) => ({
      socketPath,
      queueSize: args.vringSize,
      queues: args.vms.queues,
      msix: args.vms.msix,
    })),
    runDir,
  };
}
