/**
 * The libvirt domain of a vhost-user VM, built from the same VmSpec as the QEMU argv (lib/qemu):
 * the same guest (TCG or KVM, vCPUs, hugepage-backed shared RAM, the overlay disk, vhost-user
 * virtio-net NICs at the spec's queue sizes with CSIT's offloads off, console on ttyS0 logged,
 * the guest agent on ttyS1), the source-built QEMU as emulator, vCPU pinning per the CPU plan.
 * Pure: a string out, every value XML-escaped.
 *
 * What libvirt 9.0 cannot say in its own schema goes through <qemu:commandline>: the e1000
 * management NIC on user networking with the ssh port forward (libvirt's type='user' forwards
 * ports only with passt, which is not here) and a QMP socket of our own, so scripts/qmp.py reads
 * the negotiated vring sizes exactly as for the QEMU backend.
 */
import { resolveVmSpec } from "../qemu/validate";
import type { ResolvedVhostUserNic, ResolvedVmSpec, VmSpec } from "../qemu/types";

export interface DomainOptions {
  /** libvirt domain name (unique per stack and VM): letters, digits, `_.-` */
  domainName: string;
  /** host CPU of vCPU i (vcpupin); none: unpinned */
  vcpuPin?: number[][];
  /** host CPUs of QEMU's other threads (emulatorpin); none: unpinned */
  emulatorPin?: number[];
}

export const DOMAIN_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/;

/** XML text and attribute escaping (the five predefined entities). */
export function xmlEscape(v: string | number): string {
  return String(v)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

const e = xmlEscape;
const cpuList = (cpus: number[]): string => cpus.join(",");

function cpuXml(s: ResolvedVmSpec): string[] {
  const topo = `<topology sockets="1" dies="1" cores="${s.vcpus}" threads="1"/>`;
  if (s.accel === "kvm") return [`  <cpu mode="host-passthrough" check="none">${topo}</cpu>`];
  // TCG: the same named model as the argv; check none (TCG lacks some of the model's flags)
  return [
    `  <cpu mode="custom" match="exact" check="none">`,
    `    <model fallback="allow">${e(s.cpuModel)}</model>`,
    `    ${topo}`,
    `  </cpu>`,
  ];
}

function cputuneXml(s: ResolvedVmSpec, o: DomainOptions): string[] {
  const pins = (o.vcpuPin ?? [])
    .slice(0, s.vcpus)
    .map((cpus, i) => (cpus.length > 0 ? `    <vcpupin vcpu="${i}" cpuset="${e(cpuList(cpus))}"/>` : ""));
  const emu =
    o.emulatorPin && o.emulatorPin.length > 0
      ? [`    <emulatorpin cpuset="${e(cpuList(o.emulatorPin))}"/>`]
      : [];
  const body = [...pins.filter((p) => p !== ""), ...emu];
  return body.length > 0 ? ["  <cputune>", ...body, "  </cputune>"] : [];
}

function vhostUserXml(nic: ResolvedVhostUserNic): string[] {
  return [
    `    <interface type="vhostuser">`,
    `      <mac address="${e(nic.mac)}"/>`,
    // mode server: QEMU listens, the vswitch connects as client (as with the argv)
    `      <source type="unix" path="${e(nic.socketPath)}" mode="server"/>`,
    `      <model type="virtio"/>`,
    `      <driver queues="${nic.queues}" rx_queue_size="${nic.queueSize}" tx_queue_size="${nic.queueSize}">`,
    `        <host csum="off" gso="off" tso4="off" tso6="off" ecn="off"/>`,
    `        <guest tso4="off" tso6="off" ecn="off"/>`,
    `      </driver>`,
    `      <alias name="ua-${e(nic.deviceId)}"/>`,
    `    </interface>`,
  ];
}

/** virtio-net `vectors` as in the argv (msix false: 0; multi-queue: 2q+2), via <qemu:override>. */
function overrideXml(s: ResolvedVmSpec): string[] {
  const devs = s.vhostUser.flatMap((nic) => {
    const vectors = !nic.msix ? 0 : nic.queues > 1 ? 2 * nic.queues + 2 : undefined;
    if (vectors === undefined) return [];
    return [
      `    <qemu:device alias="ua-${e(nic.deviceId)}">`,
      `      <qemu:frontend><qemu:property name="vectors" type="unsigned" value="${vectors}"/></qemu:frontend>`,
      `    </qemu:device>`,
    ];
  });
  return devs.length > 0 ? ["  <qemu:override>", ...devs, "  </qemu:override>"] : [];
}

/** Arguments libvirt's schema has no element for (see the module comment). */
export function domainQemuArgs(s: ResolvedVmSpec): string[] {
  const fwd = s.mgmt.sshHostPort !== undefined ? `,hostfwd=tcp:127.0.0.1:${s.mgmt.sshHostPort}-:22` : "";
  return [
    ...s.firmwareDirs.flatMap((d) => ["-L", d]),
    "-netdev",
    `user,id=mgmt${fwd}`,
    "-device",
    // a fixed slot far above the ones libvirt hands out from 2 upwards (it does not see this device)
    `e1000,id=mgmtnic,netdev=mgmt,mac=${s.mgmt.mac},bus=pci.0,addr=0x1f`,
    "-chardev",
    `socket,id=vplqmp,path=${s.paths.qmpSocket.replace(/,/g, ",,")},server=on,wait=off`,
    "-mon",
    "chardev=vplqmp,mode=control",
    ...s.extraArgs,
  ];
}

/** The domain XML of one VM. Throws on a bad spec (validateVmSpec) or a bad domain name. */
export function buildDomainXml(spec: VmSpec, o: DomainOptions): string {
  if (!DOMAIN_NAME.test(o.domainName)) throw new Error(`domain name '${o.domainName}' is not ${DOMAIN_NAME}`);
  const s = resolveVmSpec(spec);
  const p = s.paths;
  const pageKiB = s.hugepageSizeMiB * 1024;
  return [
    `<domain type="${s.accel === "kvm" ? "kvm" : "qemu"}" xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0">`,
    `  <name>${e(o.domainName)}</name>`,
    `  <memory unit="MiB">${s.memoryMiB}</memory>`,
    `  <memoryBacking>`,
    `    <hugepages><page size="${pageKiB}" unit="KiB"/></hugepages>`,
    ...(s.prealloc ? [`    <allocation mode="immediate"/>`] : []),
    `    <access mode="shared"/>`,
    `  </memoryBacking>`,
    `  <vcpu placement="static">${s.vcpus}</vcpu>`,
    ...cputuneXml(s, o),
    `  <os>`,
    `    <type arch="x86_64" machine="pc">hvm</type>`,
    `    <boot dev="hd"/>`,
    `  </os>`,
    // ACPI and the APIC: without <acpi/> libvirt passes -no-acpi and the guest brings up one CPU only
    `  <features><acpi/><apic/></features>`,
    ...cpuXml(s),
    `  <on_poweroff>destroy</on_poweroff>`,
    `  <on_reboot>restart</on_reboot>`,
    `  <on_crash>destroy</on_crash>`,
    `  <devices>`,
    `    <emulator>${e(s.qemuBinary)}</emulator>`,
    `    <disk type="file" device="disk">`,
    `      <driver name="qemu" type="qcow2" cache="unsafe"/>`,
    `      <source file="${e(s.diskImage)}"/>`,
    `      <target dev="vda" bus="virtio"/>`,
    `    </disk>`,
    `    <controller type="usb" model="none"/>`,
    ...s.vhostUser.flatMap(vhostUserXml),
    // ttyS0: the console, logged; ttyS1: the guest agent (qemu-ga --method=isa-serial)
    `    <serial type="file">`,
    `      <source path="${e(p.consoleLog)}"/>`,
    `      <target type="isa-serial" port="0"/>`,
    `    </serial>`,
    `    <serial type="unix">`,
    `      <source mode="bind" path="${e(p.qgaSocket)}"/>`,
    `      <target type="isa-serial" port="1"/>`,
    `    </serial>`,
    `    <memballoon model="none"/>`,
    `  </devices>`,
    // QEMU runs as root like the argv backend: it opens root's hugepages, sockets and overlay
    `  <seclabel type="static" model="dac" relabel="no"><label>+0:+0</label></seclabel>`,
    `  <qemu:commandline>`,
    ...domainQemuArgs(s).map((a) => `    <qemu:arg value="${e(a)}"/>`),
    `  </qemu:commandline>`,
    ...overrideXml(s),
    `</domain>`,
    "",
  ]
    .filter((l) => l !== "")
    .join("\n")
    .concat("\n");
}
