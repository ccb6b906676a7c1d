/**
 * Rules that relate several fields: CPU plan, hugepage budget, topology, versions, matrix.
 * A rule is skipped when a field it reads already has an error (no follow-on noise).
 */
import { formatCpuList, intersect, union } from "./cpuset";
import { GUEST_OS_RESERVE_MIB, SEED_IMAGE_REQUIREMENTS, VRING_MAX, VRING_MIN } from "./defaults";
import { at, Ctx } from "./reader";
import { largestFrameBytes, maxFrameForMtu, mtuForFrame } from "./frames";
import { CMDLINE_TUNINGS, Host, HUGEPAGE_MIB, Lab } from "./types";

const hostPath = (i: number): string => `hosts[${i}]`;

export function crossCheck(ctx: Ctx, lab: Lab): void {
  checkHosts(ctx, lab);
  lab.hosts.forEach((h, i) => {
    if (ctx.failedAt(hostPath(i))) return; // not a host at all: nothing to relate
    checkCpuPlan(ctx, lab, h, hostPath(i));
    checkHugepages(ctx, lab, h, hostPath(i));
    checkNics(ctx, h, hostPath(i));
  });
  checkTopology(ctx, lab);
  checkTuning(ctx, lab);
  checkQemu(ctx, lab);
  checkImage(ctx, lab);
  checkVms(ctx, lab);
  checkMatrix(ctx, lab);
  checkVpp(ctx, lab);
}

/** Bytes VPP keeps per buffer: 2048 data + headroom + metadata (vlib_buffer_t), rounded up (project estimate). */
export const VPP_BYTES_PER_BUFFER = 2560;

/** VPP on a lab DUT: its PCI ports bound to the uio-driver its dpdk section names; buffers fit its memory. */
function checkVpp(ctx: Ctx, lab: Lab): void {
  const sw = lab.vswitch;
  if (sw.kind !== "vpp" || ctx.failed("vswitch")) return;
  const driver = sw.options.uioDriver;
  lab.hosts.forEach((h, i) => {
    if (!h.roles.includes("dut") || ctx.failed(at(hostPath(i), "nics"))) return;
    h.nics.forEach((n, j) => {
      if (n.kind === "pci" && n.driver !== driver) {
        ctx.error(
          at(at(at(hostPath(i), "nics"), j), "driver"),
          `${driver}, the driver VPP's dpdk section names (vswitch.options.uioDriver)`,
          `"${n.driver}"`,
          `set driver: ${driver}, or vswitch.options.uioDriver: ${n.driver}`,
        );
      }
    });
  });
  const needMiB = Math.ceil((sw.options.buffers * VPP_BYTES_PER_BUFFER) / (1 << 20));
  if (needMiB > sw.memoryMiB) {
    ctx.error(
      "vswitch.options.buffers",
      `buffers that fit vswitch.memoryMiB (${sw.memoryMiB} MiB at ~${VPP_BYTES_PER_BUFFER} bytes each)`,
      `${sw.options.buffers} (~${needMiB} MiB)`,
      `lower buffers, or set vswitch.memoryMiB: ${needMiB} or more`,
    );
  }
}

/** The hosts that run VMs. */
export const duts = (lab: Lab): Host[] => lab.hosts.filter((h) => h.roles.includes("dut"));

function checkHosts(ctx: Ctx, lab: Lab): void {
  if (ctx.failed("hosts") && lab.hosts.length === 0) return;
  const byName = new Map<string, number>();
  const byEndpoint = new Map<string, number>();
  lab.hosts.forEach((h, i) => {
    const first = byName.get(h.name);
    if (first !== undefined && h.name !== "") {
      ctx.error(
        at(hostPath(i), "name"),
        "a host name used once",
        `"${h.name}" again (hosts[${first}] has it)`,
        "rename one of them",
      );
    } else byName.set(h.name, i);
    const ep = `${h.ssh.host.toLowerCase()}:${h.ssh.port}`;
    const other = byEndpoint.get(ep);
    if (other !== undefined && h.ssh.host !== "") {
      ctx.error(
        at(at(hostPath(i), "ssh"), "host"),
        "a machine described once: each host entry is a different machine",
        `${ep}, the same endpoint as hosts[${other}]`,
        `merge the two entries and give the host both roles: [dut, tg]`,
      );
    } else byEndpoint.set(ep, i);
  });
  if (ctx.failed("hosts")) return;
  if (!lab.hosts.some((h) => h.roles.includes("dut"))) {
    ctx.error(
      "hosts",
      "at least one host with role dut (where the vswitch and VMs run)",
      "no dut host",
      "add roles: [dut] to a host",
    );
  }
  if (!lab.hosts.some((h) => h.roles.includes("tg"))) {
    ctx.error(
      "hosts",
      "a host with role tg (the traffic generator)",
      "no tg host",
      "add roles: [tg] to a host, or [dut, tg] for one machine",
    );
  }
}

interface Role {
  name: string;
  path: string;
  cpus: number[];
  /** a busy poller that cfsrr1 turns SCHED_RR */
  rr: boolean;
}

function checkCpuPlan(ctx: Ctx, lab: Lab, h: Host, p: string): void {
  const cp = at(p, "cpus");
  if (ctx.failed(cp, at(p, "roles"))) return;
  const c = h.cpus;
  const isDut = h.roles.includes("dut");
  const isTg = h.roles.includes("tg");
  const range = `0-${c.count - 1}`;
  const roles: Role[] = [
    { name: "housekeeping", path: at(cp, "housekeeping"), cpus: c.housekeeping, rr: false },
  ];
  if (isDut) {
    roles.push({ name: "vswitch", path: at(cp, "vswitch"), cpus: c.vswitch, rr: true });
    c.vms.forEach((v, i) => roles.push({ name: `vms[${i}]`, path: at(at(cp, "vms"), i), cpus: v, rr: true }));
  }
  if (isTg) roles.push({ name: "tg", path: at(cp, "tg"), cpus: c.tg, rr: false });

  let outside = false;
  for (const r of roles) {
    const bad = r.cpus.filter((x) => x >= c.count);
    if (bad.length > 0) {
      outside = true;
      ctx.error(
        r.path,
        `CPUs of this host: within ${range} (cpus.count is ${c.count})`,
        `"${formatCpuList(r.cpus)}" (CPU ${formatCpuList(bad)} does not exist)`,
        "use CPUs of the host's NUMA node (lscpu), or fix cpus.count",
      );
    } else if (r.cpus.length === 0) {
      ctx.error(r.path, `at least one CPU for ${r.name}`, "an empty CPU list");
    }
  }
  if (c.threadsPerCore > 1 && c.count % c.threadsPerCore !== 0) {
    ctx.error(at(cp, "threadsPerCore"), `a divisor of cpus.count (${c.count})`, `${c.threadsPerCore}`);
  }
  if (isDut && !ctx.failed("vms")) {
    if (c.vms.length !== lab.vms.count) {
      ctx.error(
        at(cp, "vms"),
        `one CPU list per VM: ${lab.vms.count} (vms.count)`,
        `${c.vms.length} CPU list${c.vms.length === 1 ? "" : "s"}`,
        "give each VM its own list, or change vms.count",
      );
    }
    if (!c.shared) {
      c.vms.forEach((v, i) => {
        if (v.length > 0 && v.length < lab.vms.vcpus) {
          ctx.error(
            at(at(cp, "vms"), i),
            `at least ${lab.vms.vcpus} CPUs, one per vCPU thread (vms.vcpus)`,
            `"${formatCpuList(v)}" (${v.length} CPU${v.length === 1 ? "" : "s"})`,
            "add CPUs, lower vms.vcpus, or set cpus.shared: true (overcommit; numbers are then not comparable)",
          );
        }
      });
    }
  }
  if (isTg && lab.tg.kind === "trex" && lab.tg.host === h.name && c.tg.length > 0 && c.tg.length < 3) {
    ctx.error(
      at(cp, "tg"),
      "at least 3 CPUs for TRex: master, latency and one worker",
      `"${formatCpuList(c.tg)}" (${c.tg.length})`,
    );
  }
  if (outside) return;

  const cfsrr1 = lab.matrix.cfsPolicies.includes("cfsrr1");
  const rrCpus = union(...roles.filter((r) => r.rr).map((r) => r.cpus));
  for (let j = 1; j < roles.length; j++) {
    const b = roles[j] as Role;
    for (let i = 0; i < j; i++) {
      const a = roles[i] as Role;
      const common = intersect(a.cpus, b.cpus);
      if (common.length === 0) continue;
      if (a.name === "housekeeping" && b.rr && cfsrr1) {
        const all = rrCpus.length >= c.count;
        ctx.error(
          b.path,
          "CPUs off housekeeping: with cfsrr1 in matrix.cfsPolicies the vswitch workers and vCPU threads run SCHED_RR",
          all
            ? `"${formatCpuList(b.cpus)}": vswitch and VM CPUs cover every CPU (${range}), no housekeeping CPU is left`
            : `"${formatCpuList(b.cpus)}", which shares ${formatCpuList(common)} with housekeeping`,
          "SCHED_RR busy pollers on every core starve the machine (sshd, the guest agent, the benchmark's own SSH); " +
            "keep housekeeping free of them (move this role), or drop cfsrr1 from matrix.cfsPolicies",
        );
      } else if (!c.shared) {
        ctx.error(
          b.path,
          `CPUs not used by ${a.name} (roles do not share CPUs unless cpus.shared is true)`,
          `"${formatCpuList(b.cpus)}", which shares ${formatCpuList(common)} with ${a.name}`,
          "pick disjoint CPU lists",
        );
      }
    }
  }
  if (isDut && c.vswitchMain !== undefined) {
    const mp = at(cp, "vswitchMain");
    if (c.vswitchMain >= c.count) {
      ctx.error(mp, `a CPU of this host: within ${range}`, `${c.vswitchMain}`);
    } else if (c.vswitch.includes(c.vswitchMain)) {
      ctx.error(
        mp,
        "a CPU that is not a vswitch worker",
        `${c.vswitchMain}, also in cpus.vswitch`,
        "use a housekeeping CPU (the default)",
      );
    } else if (!c.shared && c.vms.some((v) => v.includes(c.vswitchMain as number))) {
      ctx.error(
        mp,
        "a CPU not used by a VM",
        `${c.vswitchMain}, also in cpus.vms`,
        "use a housekeeping CPU (the default)",
      );
    }
  }
}

const pagesFor = (mib: number, pageMiB: number): number => Math.ceil(mib / pageMiB);

function checkHugepages(ctx: Ctx, lab: Lab, h: Host, p: string): void {
  const hp = at(p, "hugepages");
  if (ctx.failed(hp, "vms", "vswitch", "tg")) return;
  const page = HUGEPAGE_MIB[h.hugepages.size];
  const needs: string[] = [];
  let pages = 0;
  if (h.roles.includes("dut")) {
    if (lab.vms.memoryMiB % page !== 0) {
      ctx.error(
        "vms.memoryMiB",
        `a multiple of ${page} MiB (the ${h.hugepages.size} hugepages of ${h.name}; QEMU maps VM memory from them)`,
        `${lab.vms.memoryMiB}`,
        `use ${pagesFor(lab.vms.memoryMiB, page) * page}`,
      );
    }
    pages += lab.vms.count * pagesFor(lab.vms.memoryMiB, page) + pagesFor(lab.vswitch.memoryMiB, page);
    needs.push(
      `${lab.vms.count} VM x ${lab.vms.memoryMiB} MiB`,
      `${lab.vswitch.kind} ${lab.vswitch.memoryMiB} MiB`,
    );
  }
  if (lab.tg.kind === "trex" && lab.tg.host === h.name && h.roles.includes("tg")) {
    pages += pagesFor(lab.tg.options.limitMemoryMiB, page);
    needs.push(`TRex ${lab.tg.options.limitMemoryMiB} MiB`);
  }
  if (pages > h.hugepages.count) {
    ctx.error(
      at(hp, "count"),
      `at least ${pages} pages of ${h.hugepages.size} (${pages * page} MiB for ${needs.join(" + ")})`,
      `${h.hugepages.count} (${h.hugepages.count * page} MiB)`,
      `set hugepages.count: ${pages} or more, or lower vms.memoryMiB / vswitch.memoryMiB`,
    );
  }
}

function checkNics(ctx: Ctx, h: Host, p: string): void {
  const np = at(p, "nics");
  if (ctx.failed(np)) return;
  const seen = new Map<string, string>();
  const claim = (key: string, path: string, what: string) => {
    const first = seen.get(key);
    if (first !== undefined)
      ctx.error(path, `a ${what} used once on ${h.name}`, `${key.split("=")[1]} again (${first} has it)`);
    else seen.set(key, path);
  };
  h.nics.forEach((n, i) => {
    const ip = at(np, i);
    claim(`name=${n.name}`, at(ip, "name"), "port name");
    if (n.kind === "pci") claim(`pci=${n.pci}`, at(ip, "pci"), "PCI address");
    else {
      claim(`if=${n.ifname}`, at(at(ip, "veth"), "ifname"), "interface name");
      claim(`if=${n.peer}`, at(at(ip, "veth"), "peer"), "interface name");
    }
  });
  if (h.roles.includes("dut") && h.nics.length !== 2) {
    ctx.error(
      np,
      "the 2 DUT ports facing the TG (the VM chain cross-connects port 0 and port 1)",
      `${h.nics.length} port${h.nics.length === 1 ? "" : "s"}`,
      "list exactly the two ports cabled to the TG",
    );
  }
}

function checkTopology(ctx: Ctx, lab: Lab): void {
  if (ctx.failed("hosts", "tg")) return;
  const tgi = lab.hosts.findIndex((h) => h.name === lab.tg.host);
  const tgHost = lab.hosts[tgi];
  if (!tgHost || !tgHost.roles.includes("tg")) {
    const names = lab.hosts.filter((h) => h.roles.includes("tg")).map((h) => h.name);
    ctx.error(
      "tg.host",
      `the name of a host with role tg${names.length ? ` (${names.join(", ")})` : ""}`,
      `"${lab.tg.host}"${tgHost ? " (its roles do not include tg)" : " (no such host)"}`,
    );
    return;
  }
  const dutIdx = lab.hosts.map((h, i) => (h.roles.includes("dut") ? i : -1)).filter((i) => i >= 0);
  if (lab.tg.kind === "trex") {
    if (tgHost.roles.includes("dut")) {
      ctx.error(
        "tg.host",
        "a TG host of its own for trex (its ports are cabled to the DUT's)",
        `"${tgHost.name}", which is also a DUT`,
        "use kind: trafgen for a one-machine lab",
      );
    }
    const pci = tgHost.nics.filter((n) => n.kind === "pci").length;
    if (pci < 2) {
      ctx.error(
        at(hostPath(tgi), "nics"),
        "at least 2 pci ports on the TRex host",
        `${pci} pci port${pci === 1 ? "" : "s"}`,
      );
    }
    for (const i of dutIdx) {
      (lab.hosts[i] as Host).nics.forEach((n, j) => {
        if (n.kind === "veth") {
          ctx.error(
            at(at(at(hostPath(i), "nics"), j), "veth"),
            "a pci port: trex sends over physical links",
            "a veth port",
            "use tg.kind: trafgen for veth ports",
          );
        }
      });
    }
  } else {
    // trafgen sends into the DUT's veth pairs: from the DUT itself (one host, roles [dut, tg]) or
    // from a host of its own in the namespace holding the pairs' far ends (the 2-node local lab)
    const vethNs = dutIdx.flatMap((i) =>
      (lab.hosts[i] as Host).nics.flatMap((n) => (n.kind === "veth" ? [n.netns] : [])),
    );
    if (!tgHost.roles.includes("dut") && !(tgHost.ssh.netns && vethNs.includes(tgHost.ssh.netns))) {
      ctx.error(
        "tg.host",
        "the DUT itself, or a managed host in the network namespace of the DUT's veth peers (ssh.netns): trafgen sends into the DUT's veth pairs",
        `"${tgHost.name}" (roles [${tgHost.roles.join(", ")}]${tgHost.ssh.netns ? `, netns ${tgHost.ssh.netns}` : ""}; veth peers in ${[...new Set(vethNs)].join(", ") || "none"})`,
        `set hosts[${tgi}].ssh.netns to the veth peers' netns, or give the one machine roles [dut, tg]`,
      );
    }
    for (const i of dutIdx) {
      const nics = (lab.hosts[i] as Host).nics;
      nics.forEach((n, j) => {
        if (n.kind === "pci") {
          ctx.error(
            at(at(at(hostPath(i), "nics"), j), "pci"),
            "a veth port: trafgen sends on veth pairs",
            "a pci port",
            "use tg.kind: trex for physical ports",
          );
        }
      });
      const nsList = [...new Set(nics.flatMap((n) => (n.kind === "veth" ? [n.netns] : [])))];
      if (nsList.length > 1) {
        ctx.error(
          at(hostPath(i), "nics"),
          "all veth peers in one network namespace (trafgen runs in it)",
          `namespaces ${nsList.join(", ")}`,
        );
      }
    }
  }
  // frames must fit every port on the path
  const ports = lab.hosts.flatMap((h) =>
    h.roles.includes("dut") || h.name === lab.tg.host ? h.nics.map((n) => ({ h: h.name, n })) : [],
  );
  if (ctx.failed("matrix.frames") || ports.length === 0) return;
  const smallest = ports.reduce((a, b) => (b.n.mtu < a.n.mtu ? b : a));
  const maxFrame = maxFrameForMtu(smallest.n.mtu); // Ethernet header + FCS
  lab.matrix.frames.forEach((f, k) => {
    const size = largestFrameBytes(f);
    if (size > maxFrame) {
      ctx.error(
        at("matrix.frames", k),
        `frames that fit every port: ${smallest.h}.${smallest.n.name} has mtu ${smallest.n.mtu}, so at most ${maxFrame} B`,
        `${f}${f === "imix" ? " (largest 1518 B)" : ""}`,
        `drop ${f} from matrix.frames, or raise hosts[].nics[].mtu of ${smallest.h}.${smallest.n.name} (and every other port on the path) to ${mtuForFrame(size)}`,
      );
    }
  });
}

function checkTuning(ctx: Ctx, lab: Lab): void {
  if (lab.profile !== "local" || ctx.failed("tuning")) return;
  if (lab.tuning.reboot.allowed) {
    ctx.error(
      "tuning.reboot.allowed",
      "false: the local lab is this machine, which the program never reboots",
      "true",
      "set it to false",
    );
  }
  lab.tuning.apply.forEach((t, i) => {
    if (CMDLINE_TUNINGS.includes(t)) {
      ctx.error(
        at("tuning.apply", i),
        "runtime tunings only: the local lab never reboots, so kernel-cmdline tunings cannot take effect",
        `"${t}"`,
        `remove "${t}"`,
      );
    }
  });
}

/** "1:7.2+dfsg-7+deb12u18" -> "7.2"; "https://.../qemu-7.2.0.tar.xz" -> "7.2.0". */
function sourceVersion(lab: Lab): string | undefined {
  const s = lab.qemu.source;
  if (s.kind === "debian") return /^(?:\d+:)?(\d+\.\d+(?:\.\d+)?)/.exec(s.version)?.[1];
  const file = s.kind === "tarball" ? s.url : s.path;
  return /qemu-(\d+\.\d+(?:\.\d+)?)\.tar/.exec(file)?.[1];
}

/** Same release when the common leading components agree ("7.2" matches "7.2.0", not "7.1"). */
function sameRelease(a: string, b: string): boolean {
  const x = a.split(".");
  const y = b.split(".");
  const n = Math.min(x.length, y.length);
  return x.slice(0, n).join(".") === y.slice(0, n).join(".");
}

const major = (v: string): number => Number(v.split(".")[0]);
const minor = (v: string): number => Number(v.split(".")[1] ?? 0);

function checkQemu(ctx: Ctx, lab: Lab): void {
  const q = lab.qemu;
  if (ctx.failedAt("qemu") || ctx.failed("qemu.version")) return;
  const sv = ctx.failed("qemu.source") ? undefined : sourceVersion(lab);
  if (sv !== undefined && !sameRelease(sv, q.version)) {
    const field = q.source.kind === "debian" ? "version" : q.source.kind === "tarball" ? "url" : "path";
    ctx.error(
      at("qemu.source", field),
      `QEMU ${q.version} (qemu.version)`,
      `a source of QEMU ${sv}`,
      "make qemu.version and the source agree (the patch set and the prefix follow qemu.version)",
    );
  }
  const pv = q.patchDir ? /qemu-(\d+\.\d+(?:\.\d+)?)/.exec(q.patchDir)?.[1] : undefined;
  if (pv !== undefined && !sameRelease(pv, q.version)) {
    ctx.error(
      "qemu.patchDir",
      `patches for QEMU ${q.version}`,
      `"${q.patchDir}" (patches for ${pv})`,
      'point patchDir at the patches of this version, or "" for none',
    );
  }
  if (!ctx.failed("qemu.configureFlags")) {
    const tl = q.configureFlags.find((f) => f.startsWith("--target-list="));
    if (!tl || !tl.slice("--target-list=".length).split(",").includes("x86_64-softmmu")) {
      ctx.error(
        "qemu.configureFlags",
        "--target-list=... including x86_64-softmmu (the VMs are x86_64)",
        tl ? `"${tl}"` : "no --target-list",
        "add --target-list=x86_64-softmmu (it also keeps the build short)",
      );
    }
  }
  if (lab.profile === "local" && q.accel === "kvm" && !ctx.failed("qemu.accel")) {
    ctx.error(
      "qemu.accel",
      "auto or tcg on the local lab: its /dev/kvm is kvm-pvm and a stock guest kernel hangs under it",
      '"kvm"',
      "use auto (probes, then falls back to tcg) or tcg",
    );
  }
  // QEMU before 8.0 dereferences a missing irqfd with vhost-user + MSI-X without KVM (DESIGN.md §4)
  if (
    major(q.version) < 8 &&
    q.accel !== "kvm" &&
    lab.vms.msix &&
    q.patchDir === undefined &&
    !ctx.failed("vms.msix", "qemu.patchDir")
  ) {
    ctx.error(
      "vms.msix",
      `false, or a patched QEMU: QEMU ${q.version} segfaults under TCG with vhost-user NICs and MSI-X (kvm_virtio_pci_irqfd_use)`,
      `true with qemu.accel ${q.accel} and no qemu.patchDir`,
      "set qemu.patchDir: patches/qemu-7.2 (the fix), or vms.msix: false (vectors=0), or use QEMU >= 8.0",
    );
  }
  // virtio-net tx_queue_size exists since QEMU 2.10: older builds stay at 256 descriptors
  if (major(q.version) === 2 && minor(q.version) < 10 && !ctx.failed("matrix.vringSizes")) {
    lab.matrix.vringSizes.forEach((v, i) => {
      if (v !== 256) {
        ctx.error(
          at("matrix.vringSizes", i),
          `256 with QEMU ${q.version} (tx_queue_size came in 2.10)`,
          `${v}`,
          "use QEMU >= 2.10 or a patched build",
        );
      }
    });
  }
}

function checkImage(ctx: Ctx, lab: Lab): void {
  if (ctx.failed("image.requirements", "vms.workload")) return;
  const reqs = lab.image.requirements;
  const missingSeed = SEED_IMAGE_REQUIREMENTS.filter((r) => !reqs.includes(r));
  if (missingSeed.length > 0) {
    ctx.error(
      "image.requirements",
      `the seed's minimum: ${SEED_IMAGE_REQUIREMENTS.join(", ")}`,
      `missing ${missingSeed.join(", ")}`,
      "the VM setup depends on each of them (agent on ttyS1, mgmt<n>/virtio<n> names, NOPASSWD sudo); add them back",
    );
  }
  const app = lab.vms.workload.kind;
  if (!reqs.includes(app)) {
    ctx.error(
      "image.requirements",
      `${app}, the guest workload (vms.workload.kind)`,
      `a list without ${app}`,
      `add ${app}`,
    );
  }
}

const SUN_PATH_MAX = 107; // sockaddr_un.sun_path holds 108 bytes including the NUL

/**
 * What the libvirt VM backend cannot do yet: switch vring sizes (no control kit), and cfsrr1 (libvirt
 * puts QEMU in its own cpu cgroup, whose real-time runtime is 0 on a kernel with RT group
 * scheduling: chrt on the vCPU threads is refused with EPERM, seen on this machine).
 */
function checkLibvirt(ctx: Ctx, lab: Lab): void {
  const m = lab.matrix;
  if (!ctx.failed("matrix.vringSizes") && m.vringSizes.length > 1) {
    ctx.error(
      "matrix.vringSizes",
      "one vring size with vms.backend libvirt (the vring switch between cells restarts QEMU through the qemu backend's control kit)",
      m.vringSizes.join(", "),
      "one stack per vring size, or vms.backend: qemu",
    );
  }
  if (!ctx.failed("matrix.cfsPolicies") && m.cfsPolicies.includes("cfsrr1")) {
    ctx.error(
      "matrix.cfsPolicies",
      "cfs only with vms.backend libvirt (libvirt's cpu cgroup for QEMU has no real-time runtime: SCHED_RR on the vCPU threads is refused)",
      m.cfsPolicies.join(", "),
      "drop cfsrr1, or use vms.backend: qemu for the cfsrr1 comparison",
    );
  }
}

function checkVms(ctx: Ctx, lab: Lab): void {
  const v = lab.vms;
  if (ctx.failed("vms")) return;
  if (v.backend === "libvirt") checkLibvirt(ctx, lab);
  if (v.vcpus < 2) {
    ctx.error(
      "vms.vcpus",
      "at least 2: the guest workload needs a main lcore and a forwarding lcore",
      `${v.vcpus}`,
      "CSIT uses 3 for 1vm/1c",
    );
  }
  if (v.queues > 1 && !v.msix) {
    ctx.error(
      "vms.queues",
      "1 while vms.msix is false: multi-queue needs MSI-X vectors (2q+2)",
      `${v.queues}`,
    );
  }
  const guestMiB = v.guestHugepages.count * HUGEPAGE_MIB[v.guestHugepages.size];
  if (guestMiB + GUEST_OS_RESERVE_MIB > v.memoryMiB) {
    ctx.error(
      "vms.guestHugepages.count",
      `guest hugepages that leave the guest OS ${GUEST_OS_RESERVE_MIB} MiB of its ${v.memoryMiB} MiB`,
      `${v.guestHugepages.count} x ${v.guestHugepages.size} = ${guestMiB} MiB`,
      `lower it to ${Math.floor((v.memoryMiB - GUEST_OS_RESERVE_MIB) / HUGEPAGE_MIB[v.guestHugepages.size])} or raise vms.memoryMiB`,
    );
  }
  // sockets: one pair per VM, all distinct, short enough for a unix socket
  const sp = v.socketTemplate !== undefined ? "vms.socketTemplate" : "vms.sockets";
  if (v.socketTemplate === undefined && v.sockets.length !== v.count) {
    ctx.error(
      "vms.sockets",
      `one pair of socket paths per VM: ${v.count} (vms.count)`,
      `${v.sockets.length}`,
    );
  }
  // with a template, one error per kind of problem is enough (every path comes from the same text)
  const once = new Set<string>();
  const report = (kind: string, where: string, expected: string, found: string, hint: string) => {
    if (v.socketTemplate !== undefined && once.has(kind)) return;
    once.add(kind);
    ctx.error(where, expected, found, hint);
  };
  const seen = new Map<string, string>();
  v.sockets.forEach((pair, i) => {
    if (v.socketTemplate === undefined && pair.length !== 2) {
      ctx.error(at("vms.sockets", i), "two socket paths (one per vhost-user NIC)", `${pair.length}`);
    }
    pair.forEach((s, n) => {
      const where = v.socketTemplate !== undefined ? sp : at(at("vms.sockets", i), n);
      const label = `vm ${i + 1} nic ${n + 1}`;
      const first = seen.get(s);
      if (first === undefined) seen.set(s, label);
      else {
        const hint =
          v.socketTemplate !== undefined
            ? "use both {vm} and {n} in the template"
            : "give each NIC its own path";
        report(
          "dup",
          where,
          "a distinct vhost-user socket per VM NIC",
          `"${s}" for both ${first} and ${label}`,
          hint,
        );
      }
      const bytes = Buffer.byteLength(s);
      if (bytes > SUN_PATH_MAX) {
        const expected = `a socket path of at most ${SUN_PATH_MAX} bytes (unix socket limit)`;
        report("long", where, expected, `${bytes} bytes`, "use a shorter directory");
      }
    });
  });
  if (v.sshPortBase + v.count > 65535) {
    ctx.error(
      "vms.sshPortBase",
      `at most ${65535 - v.count} (one forwarded port per VM)`,
      `${v.sshPortBase}`,
    );
  }
  for (const h of duts(lab)) {
    if (h.ssh.managed && h.ssh.port > v.sshPortBase && h.ssh.port <= v.sshPortBase + v.count) {
      ctx.error(
        "vms.sshPortBase",
        `forwarded VM ports (${v.sshPortBase + 1}-${v.sshPortBase + v.count}) that avoid the managed sshd's port ${h.ssh.port} on ${h.name}`,
        `${v.sshPortBase}`,
        "move one of them",
      );
    }
  }
}

function checkMatrix(ctx: Ctx, lab: Lab): void {
  const m = lab.matrix;
  if (!ctx.failed("matrix.vringSizes")) {
    m.vringSizes.forEach((v, i) => {
      const pow2 = v > 0 && (v & (v - 1)) === 0;
      if (!pow2 || v < VRING_MIN || v > VRING_MAX) {
        ctx.error(
          at("matrix.vringSizes", i),
          `a power of two from ${VRING_MIN} to ${VRING_MAX} (QEMU virtio-net rx_queue_size/tx_queue_size)`,
          `${v}`,
          "use 256, 512 or 1024 (CSIT measures 1024)",
        );
      }
    });
  }
  if (lab.profile === "local" && lab.vswitch.kind === "vpp" && !ctx.failed("vswitch.kind")) {
    ctx.error(
      "vswitch.kind",
      "testpmd or ovs-dpdk on the local lab (VPP comes from FD.io packages, not Debian)",
      '"vpp"',
      "use testpmd",
    );
  }
  const n = m.ndrpdr;
  if (ctx.failed("matrix.ndrpdr")) return;
  if (n.ndrLossRatio > n.pdrLossRatio) {
    ctx.error(
      "matrix.ndrpdr.pdrLossRatio",
      `at least ndrLossRatio (${n.ndrLossRatio}): PDR allows more loss than NDR`,
      `${n.pdrLossRatio}`,
    );
  }
  if (n.durationSumS < n.trialDurationS) {
    ctx.error(
      "matrix.ndrpdr.durationSumS",
      `at least trialDurationS (${n.trialDurationS} s)`,
      `${n.durationSumS}`,
    );
  }
  if (n.timeLimitS < n.durationSumS) {
    ctx.error("matrix.ndrpdr.timeLimitS", `at least durationSumS (${n.durationSumS} s)`, `${n.timeLimitS}`);
  }
  if (n.maxLoadPps !== undefined && n.maxLoadPps <= n.minLoadPps) {
    ctx.error("matrix.ndrpdr.maxLoadPps", `more than minLoadPps (${n.minLoadPps})`, `${n.maxLoadPps}`);
  }
  if (lab.tg.kind === "trafgen" && !ctx.failed("tg")) {
    const cap = lab.tg.options.maxRatePps;
    if (n.maxLoadPps !== undefined && n.maxLoadPps > cap) {
      ctx.error(
        "matrix.ndrpdr.maxLoadPps",
        `at most tg.options.maxRatePps (${cap}): trafgen is not accurate above it`,
        `${n.maxLoadPps}`,
      );
    }
    if (n.minLoadPps >= cap) {
      ctx.error("matrix.ndrpdr.minLoadPps", `below tg.options.maxRatePps (${cap})`, `${n.minLoadPps}`);
    }
  }
  if (lab.tg.kind === "trex" && !ctx.failed("tg")) {
    const cpus = lab.hosts.find((h) => h.name === lab.tg.host)?.cpus.tg.length ?? 0;
    if (cpus >= 3 && lab.tg.options.workers > cpus - 2) {
      ctx.error(
        "tg.options.workers",
        `at most ${cpus - 2} (TG CPUs minus master and latency)`,
        `${lab.tg.options.workers}`,
        "add TG CPUs or lower workers",
      );
    }
  }
}
