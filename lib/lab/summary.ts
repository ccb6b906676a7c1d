/** A compact, secret-free description of a lab for humans (lab-check prints it). */
import { difference, formatCpuList } from "./cpuset";
import { expandMatrix, frameTag, matrixBudgetS, maxLoadPps, nicTag, vswitchCores } from "./names";
import { Host, HUGEPAGE_MIB, Lab } from "./types";

function sshLine(h: Host): string {
  const s = h.ssh;
  const key =
    s.privateKey.kind === "file"
      ? `key file ${s.privateKey.path}`
      : `key ${s.privateKey.secret.encrypted ? "[secret, encrypted]" : "[secret]"}`;
  const hk = s.hostKey;
  const pinned =
    hk.kind === "file"
      ? `host key from ${hk.path}`
      : hk.kind === "key"
        ? `host key ${hk.key.split(/\s+/)[0]} pinned`
        : "host key fingerprint pinned";
  return `${s.user}@${s.host}:${s.port}${s.managed ? (s.netns ? ` (managed sshd in netns ${s.netns})` : " (managed loopback sshd)") : ""}, ${key}, ${pinned}`;
}

function portsLine(h: Host): string {
  return h.nics
    .map((n) =>
      n.kind === "pci"
        ? `${n.name} ${n.pci} ${n.model} ${n.speedGbps}G mtu ${n.mtu}`
        : `${n.name} veth ${n.ifname}<->${n.peer}@${n.netns} mtu ${n.mtu}`,
    )
    .join(", ");
}

function cpuLine(lab: Lab, h: Host): string {
  const c = h.cpus;
  const parts = [`housekeeping ${formatCpuList(c.housekeeping)}`];
  if (h.roles.includes("dut")) {
    parts.push(
      `vswitch main ${c.vswitchMain ?? "-"}, workers ${formatCpuList(c.vswitch)} (${vswitchCores(h)}c)`,
    );
    c.vms.forEach((v, i) => parts.push(`vm${i + 1} ${formatCpuList(v)}`));
  }
  if (h.roles.includes("tg")) parts.push(`${lab.tg.kind} ${formatCpuList(c.tg)}`);
  const all = Array.from({ length: c.count }, (_, i) => i);
  const iso = formatCpuList(difference(all, c.housekeeping));
  if (lab.tuning.apply.includes("isolcpus") && h.roles.includes("dut")) parts.push(`isolated ${iso || "-"}`);
  return `${c.count} cpus${c.shared ? " (shared)" : ""}: ${parts.join(" | ")}`;
}

function hugepageLine(lab: Lab, h: Host): string {
  const page = HUGEPAGE_MIB[h.hugepages.size];
  const have = h.hugepages.count * page;
  const needs: string[] = [];
  let need = 0;
  if (h.roles.includes("dut")) {
    const vm = lab.vms.count * Math.ceil(lab.vms.memoryMiB / page) * page;
    const vs = Math.ceil(lab.vswitch.memoryMiB / page) * page;
    need += vm + vs;
    needs.push(`${lab.vms.count} VM x ${lab.vms.memoryMiB} MiB`, `${lab.vswitch.kind} ${vs} MiB`);
  }
  if (lab.tg.kind === "trex" && lab.tg.host === h.name && h.roles.includes("tg")) {
    const t = Math.ceil(lab.tg.options.limitMemoryMiB / page) * page;
    need += t;
    needs.push(`TRex ${t} MiB`);
  }
  return `${h.hugepages.count} x ${h.hugepages.size} = ${have} MiB; needed ${need} MiB${needs.length ? ` (${needs.join(" + ")})` : ""}, spare ${have - need} MiB`;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

const hours = (s: number): string => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : `${Math.ceil(s / 60)} min`);

export function formatSummary(lab: Lab): string {
  const out: string[] = [];
  const w = Math.max(...lab.hosts.map((h) => h.name.length), 4);
  const pad = (s: string) => s.padEnd(w);
  out.push(`lab ${lab.name} (profile ${lab.profile}) from ${lab.source}: valid`);
  out.push(`stack     ${lab.stack} (its run dir on the hosts: /run/vhost-perf-lab/${lab.stack})`);
  out.push("hosts");
  for (const h of lab.hosts) {
    out.push(`  ${pad(h.name)}  [${h.roles.join(", ")}] ${sshLine(h)}, numa ${h.numaNode}`);
    if (h.nics.length) out.push(`  ${pad("")}  ports: ${portsLine(h)}`);
  }
  out.push("cpu plan");
  for (const h of lab.hosts) out.push(`  ${pad(h.name)}  ${cpuLine(lab, h)}`);
  out.push("hugepages");
  for (const h of lab.hosts) out.push(`  ${pad(h.name)}  ${hugepageLine(lab, h)}`);
  const t = lab.tuning;
  out.push(
    `tuning    ${t.apply.join(", ") || "none"}; reboot ${t.reboot.allowed ? `allowed (waits up to ${t.reboot.timeoutS} s)` : "not allowed"}` +
      (t.apply.includes("kernel-args") ? `; ${t.kernelArgs.length} kernel args` : ""),
  );
  const q = lab.qemu;
  const src =
    q.source.kind === "tarball"
      ? `tarball ${q.source.url}`
      : q.source.kind === "debian"
        ? `Debian source ${q.source.package}=${q.source.version} (${q.source.suite})`
        : `local tarball ${q.source.path}`;
  out.push(
    `qemu      ${q.version} from ${src}; prefix ${q.prefix}; accel ${q.accel}; patches ${q.patchDir ?? "none"}`,
  );
  const im = lab.image;
  const isrc =
    im.source.kind === "build"
      ? `built (${im.source.suite})`
      : im.source.kind === "url"
        ? im.source.url
        : im.source.path;
  out.push(
    `image     ${im.path} (${im.format}, ${isrc}); guest user ${im.user.name}, password ${im.user.password}`,
  );
  const vs = lab.vswitch;
  const vsOpt =
    vs.kind === "testpmd"
      ? `${vs.options.forwardMode} fwd`
      : vs.kind === "vpp"
        ? `${vs.options.mode} ${vs.options.version} (${vs.options.install.kind === "repository" ? `from ${vs.options.install.url}, key ${vs.options.install.keyFingerprint}` : "preinstalled, checked"}), ${vs.options.rxQueues} rxq, ${vs.options.uioDriver}`
        : "openflow xconnect";
  out.push(`vswitch   ${vs.kind} ${vsOpt}, ${vs.memoryMiB} MiB hugepage memory`);
  const v = lab.vms;
  const wl = v.workload.kind === "testpmd" ? `testpmd ${v.workload.forwardMode}` : "l3fwd";
  out.push(
    `vms       ${v.count} x ${v.vcpus} vCPU, ${v.memoryMiB} MiB, ${v.queues} queue${v.queues > 1 ? "s" : ""}, msix ${v.msix ? "on" : "off"}, guest ${wl}`,
  );
  out.push(`          sockets ${v.sockets.map((p) => p.join(" ")).join("; ")}`);
  const tg = lab.tg;
  out.push(
    `tg        ${tg.kind} on ${tg.host}` +
      (tg.kind === "trex"
        ? ` (${tg.options.version}, ${tg.options.workers} workers)`
        : ` (accurate up to ${tg.options.maxRatePps} pps)`),
  );
  const m = lab.matrix;
  const cells = expandMatrix(lab);
  out.push(
    `matrix    ${cells.length} tests = ${plural(m.frames.length, "frame")} x ${plural(m.vringSizes.length, "vring size")} x ` +
      `${plural(m.cfsPolicies.length, "CFS policy", "CFS policies")} x ${plural(m.tests.length, "test type")}` +
      `, at most ${hours(matrixBudgetS(lab))}`,
  );
  const n = m.ndrpdr;
  out.push(
    `          mrr ${m.mrr.trials} x ${m.mrr.trialDurationS} s; ndrpdr loss ${n.ndrLossRatio}/${n.pdrLossRatio}, width ${n.relativeWidth}, ` +
      `trials ${n.trialDurationS} s, sum ${n.durationSumS} s, limit ${n.timeLimitS} s, load ${n.minLoadPps} pps .. ` +
      m.frames.map((f) => `${Math.round(maxLoadPps(lab, f))} (${frameTag(f)})`).join(", ") +
      " pps per direction",
  );
  for (const h of lab.hosts.filter((x) => x.roles.includes("dut"))) {
    out.push(`  ${h.name} (${nicTag(h)}):`);
    for (const c of cells.filter((x) => x.dut === h.name)) out.push(`    ${c.name}`);
  }
  return out.join("\n");
}
