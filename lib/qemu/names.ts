/** Names derived from a VM spec: MACs, QEMU object ids, QOM paths, runDir files, thread names. */
import type { QemuAccel, VmPaths } from "./types";

const hex2 = (n: number): string => n.toString(16).padStart(2, "0");

/** CSIT's vhost-user NIC MAC: 52:54:00:00:<vm>:<nic>, both in hex; `nic` counts from 1. */
export function vhostUserMac(vmIndex: number, nic: number): string {
  return `52:54:00:00:${hex2(vmIndex)}:${hex2(nic)}`;
}

/** The management NIC's MAC: 52:54:00:00:<vm>:ff. */
export function mgmtMac(vmIndex: number): string {
  return `52:54:00:00:${hex2(vmIndex)}:ff`;
}

/** QEMU ids of vhost-user NIC `n` (1-based): chardev, netdev, device. */
export function vhostUserIds(n: number): { chardevId: string; netdevId: string; deviceId: string } {
  return { chardevId: `char${n}`, netdevId: `vhost${n}`, deviceId: `nic${n}` };
}

/** QOM path of a -device's virtio backend, as QMP x-query-virtio lists it. */
export function virtioQomPath(deviceId: string): string {
  return `/machine/peripheral/${deviceId}/virtio-backend`;
}

/** Where a VM keeps its sockets, pidfile and console log. */
export function vmPaths(runDir: string, name: string): VmPaths {
  const dir = runDir.length > 1 ? runDir.replace(/\/+$/, "") : runDir;
  const at = (file: string): string => `${dir === "/" ? "" : dir}/${file}`;
  return {
    runDir: dir,
    qmpSocket: at(`${name}-qmp.sock`),
    qgaSocket: at(`${name}-qga.sock`),
    consoleSocket: at(`${name}-console.sock`),
    consoleLog: at(`${name}-console.log`),
    pidfile: at(`${name}.pid`),
  };
}

/**
 * Names of the vCPU threads (`/proc/<pid>/task/<tid>/comm`) QEMU gives with
 * `-name ...,debug-threads=on`: "CPU <n>/KVM" or "CPU <n>/TCG", n = 0..vcpus-1.
 */
export function vcpuThreadNames(accel: QemuAccel, vcpus: number): string[] {
  const tag = accel === "kvm" ? "KVM" : "TCG";
  return Array.from({ length: Math.max(0, Math.floor(vcpus)) }, (_, i) => `CPU ${i}/${tag}`);
}

/** Matches a vCPU thread name of either accelerator; group 1 is the vCPU number. */
export const VCPU_THREAD_NAME = /^CPU (\d+)\/(KVM|TCG)$/;

/**
 * A value inside a QEMU option string (`key=value,key=value`): a comma in the value must be
 * doubled, or QEMU reads it as the start of the next key.
 */
export function optValue(v: string): string {
  return v.replace(/,/g, ",,");
}
