/**
 * Lab -> config. The output is the fully explicit config (every default written out), keyed
 * like parseLab's input (namespace stripped). Round trip: parseLab(labToConfig(lab)) deep-equals
 * lab, and labToConfig is a fixed point after one parse (normalized config -> lab -> same config).
 */
import { stringify } from "yaml";
import { formatCpuList } from "./cpuset";
import { NAMESPACE } from "./errors";
import type { Secret } from "./secret";
import type { Host, HostKeyRef, KeyRef, Lab, Nic } from "./types";

/** A secret as a stack file holds it: ciphertext as {secure}, a decrypted value as the plain string. */
function secretValue(s: Secret): unknown {
  return s.encrypted ? { secure: s.ciphertext() } : s.reveal();
}

function keyRef(k: KeyRef): unknown {
  return k.kind === "file" ? { file: k.path } : secretValue(k.secret);
}

function hostKeyRef(k: HostKeyRef): unknown {
  if (k.kind === "file") return { file: k.path };
  return k.key;
}

function nic(n: Nic): Record<string, unknown> {
  if (n.kind === "veth")
    return { name: n.name, veth: { ifname: n.ifname, peer: n.peer, netns: n.netns }, mtu: n.mtu };
  return { name: n.name, pci: n.pci, model: n.model, speedGbps: n.speedGbps, driver: n.driver, mtu: n.mtu };
}

function host(h: Host): Record<string, unknown> {
  const isDut = h.roles.includes("dut");
  const cpus: Record<string, unknown> = {
    count: h.cpus.count,
    threadsPerCore: h.cpus.threadsPerCore,
    housekeeping: formatCpuList(h.cpus.housekeeping),
  };
  if (isDut) {
    if (h.cpus.vswitchMain !== undefined) cpus.vswitchMain = h.cpus.vswitchMain;
    cpus.vswitch = formatCpuList(h.cpus.vswitch);
    cpus.vms = h.cpus.vms.map(formatCpuList);
  }
  if (h.roles.includes("tg")) cpus.tg = formatCpuList(h.cpus.tg);
  cpus.shared = h.cpus.shared;
  return {
    name: h.name,
    roles: [...h.roles],
    ssh: {
      host: h.ssh.host,
      port: h.ssh.port,
      user: h.ssh.user,
      managed: h.ssh.managed,
      ...(h.ssh.netns !== undefined ? { netns: h.ssh.netns } : {}),
      privateKey: keyRef(h.ssh.privateKey),
      hostKey: hostKeyRef(h.ssh.hostKey),
    },
    numaNode: h.numaNode,
    cpus,
    hugepages: { ...h.hugepages },
    nics: h.nics.map(nic),
  };
}

/** The explicit config of a lab, keyed without the namespace (parseLab's input shape). */
export function labToConfig(lab: Lab): Record<string, unknown> {
  const q = lab.qemu;
  const v = lab.vms;
  const ndrpdr: Record<string, unknown> = { ...lab.matrix.ndrpdr };
  if (ndrpdr.maxLoadPps === undefined) delete ndrpdr.maxLoadPps;
  const imageSource: Record<string, unknown> = { ...lab.image.source };
  if (imageSource.sha256 === undefined) delete imageSource.sha256;
  const vms: Record<string, unknown> = {
    backend: v.backend,
    count: v.count,
    vcpus: v.vcpus,
    memoryMiB: v.memoryMiB,
    queues: v.queues,
    msix: v.msix,
  };
  if (v.socketTemplate !== undefined) vms.socketTemplate = v.socketTemplate;
  else vms.sockets = v.sockets.map((p) => [...p]);
  Object.assign(vms, {
    sshPortBase: v.sshPortBase,
    guestHugepages: { ...v.guestHugepages },
    workload: { ...v.workload },
  });
  return {
    lab: { name: lab.name, profile: lab.profile },
    hosts: lab.hosts.map(host),
    tuning: {
      apply: [...lab.tuning.apply],
      kernelArgs: [...lab.tuning.kernelArgs],
      reboot: { ...lab.tuning.reboot },
    },
    qemu: {
      version: q.version,
      source: { ...q.source },
      patchDir: q.patchDir ?? "",
      configureFlags: [...q.configureFlags],
      prefix: q.prefix,
      accel: q.accel,
    },
    image: {
      path: lab.image.path,
      format: lab.image.format,
      source: imageSource,
      user: { name: lab.image.user.name, password: secretValue(lab.image.user.password) },
      requirements: [...lab.image.requirements],
    },
    vswitch: {
      kind: lab.vswitch.kind,
      memoryMiB: lab.vswitch.memoryMiB,
      options: { ...lab.vswitch.options },
    },
    vms,
    tg: { kind: lab.tg.kind, host: lab.tg.host, options: { ...lab.tg.options } },
    matrix: {
      vringSizes: [...lab.matrix.vringSizes],
      cfsPolicies: [...lab.matrix.cfsPolicies],
      frames: [...lab.matrix.frames],
      tests: [...lab.matrix.tests],
      mrr: { ...lab.matrix.mrr },
      ndrpdr,
    },
  };
}

/** A Pulumi stack file (YAML text) holding the lab's explicit config. */
export function labToStackYaml(lab: Lab): string {
  const config: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(labToConfig(lab))) config[`${NAMESPACE}:${k}`] = val;
  return stringify({ config });
}
