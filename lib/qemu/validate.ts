/** Validation of a VmSpec and the filled-in (resolved) form the argv builder works from. */
import { QemuSpecError, type QemuSpecIssue, type QemuSpecIssueCode } from "./errors";
import { mgmtMac, vhostUserIds, vhostUserMac, virtioQomPath, vmPaths } from "./names";
import { QEMU_ACCELS, type ResolvedVhostUserNic, type ResolvedVmSpec, type VmSpec } from "./types";

export const DEFAULT_QUEUE_SIZE = 1024;
export const MIN_QUEUE_SIZE = 256;
export const MAX_QUEUE_SIZE = 1024;
export const DEFAULT_TCG_CPU_MODEL = "EPYC";
export const DEFAULT_HUGEPAGE_SIZE_MIB = 2;
export const HUGEPAGE_SIZES_MIB: readonly number[] = [2, 1024];
export const MAX_QUEUES = 64;
/** the pc machine's CPU limit without x2APIC/IOMMU */
export const MAX_VCPUS = 255;
/** sizeof(sockaddr_un.sun_path) - 1 on Linux */
export const MAX_SOCKET_PATH_BYTES = 107;

const NAME_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/;
const CPU_MODEL_RE = /^[A-Za-z0-9][A-Za-z0-9_.+=,-]*$/;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f]/;

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);

/** true for 256, 512, 1024 */
export function isValidQueueSize(n: unknown): boolean {
  return isInt(n) && n >= MIN_QUEUE_SIZE && n <= MAX_QUEUE_SIZE && (n & (n - 1)) === 0;
}

/** Every problem of a spec (empty when it is valid). */
export function validateVmSpec(spec: VmSpec): QemuSpecIssue[] {
  const issues: QemuSpecIssue[] = [];
  const add = (code: QemuSpecIssueCode, field: string, message: string): void => {
    issues.push({ code, field, message });
  };
  const checkPath = (field: string, p: unknown): boolean => {
    if (typeof p !== "string" || !p.startsWith("/") || CONTROL_RE.test(p)) {
      add("path", field, `expected an absolute path without control characters, found ${JSON.stringify(p)}`);
      return false;
    }
    return true;
  };
  const checkSocket = (field: string, p: string): void => {
    if (!checkPath(field, p)) return;
    const bytes = Buffer.byteLength(p, "utf8");
    if (bytes > MAX_SOCKET_PATH_BYTES)
      add(
        "socket-path-length",
        field,
        `unix socket path is ${bytes} bytes, at most ${MAX_SOCKET_PATH_BYTES} fit in sun_path: use a shorter runDir`,
      );
  };

  const nameOk = typeof spec.name === "string" && NAME_RE.test(spec.name);
  if (!nameOk)
    add(
      "name",
      "name",
      `expected a letter then up to 62 of [A-Za-z0-9_.-], found ${JSON.stringify(spec.name)}`,
    );
  if (!isInt(spec.index) || spec.index < 0 || spec.index > 255)
    add("index", "index", `expected an integer 0..255 (a MAC octet), found ${String(spec.index)}`);
  checkPath("qemuBinary", spec.qemuBinary);
  if (!(QEMU_ACCELS as readonly string[]).includes(spec.accel))
    add("accel", "accel", `expected "kvm" or "tcg", found ${JSON.stringify(spec.accel)}`);
  if (spec.cpuModel !== undefined && (typeof spec.cpuModel !== "string" || !CPU_MODEL_RE.test(spec.cpuModel)))
    add(
      "cpu-model",
      "cpuModel",
      `expected a QEMU CPU model such as EPYC, found ${JSON.stringify(spec.cpuModel)}`,
    );
  if (!isInt(spec.vcpus) || spec.vcpus < 1 || spec.vcpus > MAX_VCPUS)
    add("vcpus", "vcpus", `expected an integer 1..${MAX_VCPUS}, found ${String(spec.vcpus)}`);

  const pageMiB = spec.hugepageSizeMiB ?? DEFAULT_HUGEPAGE_SIZE_MIB;
  const pageOk = HUGEPAGE_SIZES_MIB.includes(pageMiB);
  if (!pageOk)
    add(
      "hugepage-size",
      "hugepageSizeMiB",
      `expected 2 or 1024 (MiB), found ${String(spec.hugepageSizeMiB)}`,
    );
  if (!isInt(spec.memoryMiB) || spec.memoryMiB <= 0)
    add("memory", "memoryMiB", `expected a positive integer (MiB), found ${String(spec.memoryMiB)}`);
  else if (pageOk && spec.memoryMiB % pageMiB !== 0)
    add(
      "memory",
      "memoryMiB",
      `${spec.memoryMiB} MiB is not a multiple of the ${pageMiB} MiB hugepage size that backs guest RAM`,
    );
  checkPath("hugepagesPath", spec.hugepagesPath);
  checkPath("diskImage", spec.diskImage);
  const runDirOk = checkPath("runDir", spec.runDir);

  const mgmt = spec.mgmt ?? {};
  if (
    mgmt.sshHostPort !== undefined &&
    (!isInt(mgmt.sshHostPort) || mgmt.sshHostPort < 1 || mgmt.sshHostPort > 65535)
  )
    add("port", "mgmt.sshHostPort", `expected an integer 1..65535, found ${String(mgmt.sshHostPort)}`);

  const nics = Array.isArray(spec.vhostUser) ? spec.vhostUser : [];
  if (nics.length === 0) add("no-nics", "vhostUser", "expected at least one vhost-user NIC");

  // every socket of this VM: the vhost-user ones and its own QMP/agent/console sockets
  const sockets: { field: string; path: string }[] = [];
  if (runDirOk && nameOk) {
    const p = vmPaths(spec.runDir, spec.name);
    sockets.push({ field: "runDir (QMP socket)", path: p.qmpSocket });
    sockets.push({ field: "runDir (agent socket)", path: p.qgaSocket });
    sockets.push({ field: "runDir (console socket)", path: p.consoleSocket });
    for (const s of sockets) checkSocket(s.field, s.path);
  }
  nics.forEach((nic, i) => {
    const f = `vhostUser[${i}]`;
    checkSocket(`${f}.socketPath`, nic.socketPath);
    if (typeof nic.socketPath === "string") sockets.push({ field: `${f}.socketPath`, path: nic.socketPath });
    const qs = nic.queueSize ?? DEFAULT_QUEUE_SIZE;
    if (!isValidQueueSize(qs))
      add("queue-size", `${f}.queueSize`, `expected 256, 512 or 1024 (a power of two), found ${String(qs)}`);
    const q = nic.queues ?? 1;
    if (!isInt(q) || q < 1 || q > MAX_QUEUES)
      add("queues", `${f}.queues`, `expected an integer 1..${MAX_QUEUES}, found ${String(q)}`);
  });
  const seen = new Map<string, string>();
  for (const s of sockets) {
    const first = seen.get(s.path);
    if (first !== undefined)
      add(
        "duplicate-socket",
        s.field,
        `socket ${s.path} is already used by ${first}; every socket needs its own path`,
      );
    else seen.set(s.path, s.field);
  }

  // MACs: given ones must be well-formed unicast; all (given or derived) must differ
  const macs: { field: string; mac: string }[] = [];
  const idx = isInt(spec.index) && spec.index >= 0 && spec.index <= 255 ? spec.index : 0;
  const checkMac = (field: string, mac: string | undefined, fallback: string): void => {
    if (mac === undefined) {
      macs.push({ field, mac: fallback });
      return;
    }
    const m = typeof mac === "string" ? mac.toLowerCase() : "";
    if (!MAC_RE.test(m))
      add("mac", field, `expected six hex octets like 52:54:00:00:01:01, found ${JSON.stringify(mac)}`);
    else if ((parseInt(m.slice(0, 2), 16) & 1) === 1) add("mac", field, `${mac} is a multicast address`);
    else macs.push({ field, mac: m });
  };
  checkMac("mgmt.mac", mgmt.mac, mgmtMac(idx));
  nics.forEach((nic, i) => checkMac(`vhostUser[${i}].mac`, nic.mac, vhostUserMac(idx, i + 1)));
  const seenMac = new Map<string, string>();
  for (const m of macs) {
    const first = seenMac.get(m.mac);
    if (first !== undefined) add("mac", m.field, `MAC ${m.mac} is already used by ${first}`);
    else seenMac.set(m.mac, m.field);
  }

  (spec.firmwareDirs ?? []).forEach((d, i) => checkPath(`firmwareDirs[${i}]`, d));
  (spec.extraArgs ?? []).forEach((a, i) => {
    if (typeof a !== "string" || a.includes("\0"))
      add(
        "argument",
        `extraArgs[${i}]`,
        "expected a string without NUL bytes (argv elements travel NUL-separated)",
      );
  });
  return issues;
}

/** The spec with every default filled in; throws QemuSpecError listing every problem. */
export function resolveVmSpec(spec: VmSpec): ResolvedVmSpec {
  const issues = validateVmSpec(spec);
  if (issues.length > 0) throw new QemuSpecError(typeof spec.name === "string" ? spec.name : "", issues);
  const vhostUser: ResolvedVhostUserNic[] = spec.vhostUser.map((nic, i) => {
    const n = i + 1;
    const ids = vhostUserIds(n);
    return {
      n,
      socketPath: nic.socketPath,
      mac: (nic.mac ?? vhostUserMac(spec.index, n)).toLowerCase(),
      queueSize: nic.queueSize ?? DEFAULT_QUEUE_SIZE,
      queues: nic.queues ?? 1,
      msix: nic.msix ?? true,
      ...ids,
      qomPath: virtioQomPath(ids.deviceId),
    };
  });
  return {
    name: spec.name,
    index: spec.index,
    qemuBinary: spec.qemuBinary,
    accel: spec.accel,
    cpuModel: spec.cpuModel ?? DEFAULT_TCG_CPU_MODEL,
    vcpus: spec.vcpus,
    memoryMiB: spec.memoryMiB,
    hugepagesPath: spec.hugepagesPath,
    hugepageSizeMiB: spec.hugepageSizeMiB ?? DEFAULT_HUGEPAGE_SIZE_MIB,
    prealloc: spec.prealloc ?? true,
    diskImage: spec.diskImage,
    mgmt: { sshHostPort: spec.mgmt.sshHostPort, mac: (spec.mgmt.mac ?? mgmtMac(spec.index)).toLowerCase() },
    vhostUser,
    paths: vmPaths(spec.runDir, spec.name),
    firmwareDirs: [...(spec.firmwareDirs ?? [])],
    extraArgs: [...(spec.extraArgs ?? [])],
  };
}
