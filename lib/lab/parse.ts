/**
 * parseLab: untyped stack config -> Lab, every default filled in, every problem reported.
 * Structure and per-field rules live here; rules that relate several fields are in checks.ts.
 */
import {
  CPU_KEYS,
  GUEST_USER_KEYS,
  HOST_KEYS,
  HUGEPAGES_KEYS,
  IMAGE_KEYS,
  IMAGE_SOURCE_KEYS,
  KEY_FILE_KEYS,
  LAB_KEYS,
  MATRIX_KEYS,
  MRR_KEYS,
  NDRPDR_KEYS,
  NIC_KEYS,
  QEMU_KEYS,
  QEMU_SOURCE_KEYS,
  REBOOT_KEYS,
  SSH_KEYS,
  TARBALL_KEYS,
  TG_KEYS,
  TG_OPTION_KEYS,
  TOP_KEYS,
  TUNING_KEYS,
  VETH_KEYS,
  VMS_KEYS,
  VPP_INSTALL_KEYS,
  VSWITCH_KEYS,
  VSWITCH_OPTION_KEYS,
  WORKLOAD_KEYS,
} from "./shape";
import { crossCheck } from "./checks";
import {
  DEFAULT_GUEST_USER,
  DEFAULT_IMAGE_PATH,
  DEFAULT_STACK,
  defaultGuestPassword,
  defaultsFor,
  DERIVED_KERNEL_ARGS,
  MANAGED_HOST_KEY,
  MANAGED_PRIVATE_KEY,
  NIC_SPEEDS,
  ProfileDefaults,
  SOCKET_TEMPLATES,
} from "./defaults";
import { describe, LabError, NAMESPACE } from "./errors";
import { HOST_KEY_TYPES, hostKeyScanCommand, parseHostKey } from "./hostKey";
import {
  HostPathKind,
  hostPathProblem,
  LAB_RUN_ROOT,
  repoPathProblem,
  STACK_NAME_RE,
  stackFromFileName,
} from "./paths";
import {
  at,
  bool,
  choice,
  cpuSet,
  Ctx,
  int,
  isMap,
  list,
  missing,
  num,
  optNum,
  optStr,
  ParseOptions,
  readMap,
  secret,
  str,
  unknownKey,
} from "./reader";
import { isSecureObject } from "./secret";
import { nearest } from "./suggest";
import {
  ACCELS,
  VM_BACKENDS,
  CFS_POLICIES,
  CpuPlan,
  Frame,
  Host,
  HOST_ROLES,
  HostKeyRef,
  HostRole,
  HUGEPAGE_SIZES,
  Hugepages,
  Image,
  IMAGE_REQUIREMENTS,
  ImageSource,
  KeyRef,
  Lab,
  Matrix,
  Nic,
  Profile,
  PROFILES,
  Qemu,
  QemuSource,
  Ssh,
  TEST_TYPES,
  Tg,
  TG_KINDS,
  Tuning,
  TUNINGS,
  Vms,
  Vswitch,
  VppInstall,
  VSWITCH_KINDS,
  Workload,
} from "./types";

export { TOP_KEYS };

export type ParseResult = { ok: true; lab: Lab } | { ok: false; errors: LabError[] };

const NAME_RE = /^[a-z][a-z0-9-]{0,30}$/;
const NAME_EXPECTED = "a name of lower-case letters, digits and dashes, starting with a letter (at most 31)";
const ANY_PATH_RE = /^[^\0\s]+$/;
const SHA256_RE = /^[0-9a-f]{64}$/;
const URL_RE = /^https?:\/\/[^\s/]+\/\S+$/;
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const PCI_RE = /^(?:([0-9a-fA-F]{4}):)?([0-9a-fA-F]{2}):([0-1][0-9a-fA-F])\.([0-7])$/;
/**
 * Validate a lab config and fill in defaults.
 * @param config the `vhost-perf-lab:` keys with the namespace stripped (other namespaces are ignored)
 * @param source where it came from, for messages ("Pulumi.perf.yaml", "pulumi config")
 * @param opts.stack the Pulumi stack name (pulumi.getStack()); default: the <stack> of a
 *   source named Pulumi.<stack>.yaml, else DEFAULT_STACK ("dev")
 */
export function parseLab(
  config: Record<string, unknown>,
  source: string,
  opts: ParseOptions = {},
): ParseResult {
  const ctx = new Ctx(opts);
  try {
    const lab = build(ctx, config, source);
    if (lab === undefined) return { ok: false, errors: ctx.errors };
    crossCheck(ctx, lab);
    return ctx.errors.length === 0 ? { ok: true, lab } : { ok: false, errors: ctx.errors };
  } catch (e) {
    // a bug in the validator must still come out as a readable error, never as a stack trace
    ctx.error(
      "",
      "a config the validator can read",
      `an internal error (${e instanceof Error ? e.message : String(e)})`,
      "this is a bug in lib/lab; the errors before it are still valid",
    );
    return { ok: false, errors: ctx.errors };
  }
}

/** undefined when the profile cannot be told: every default and most rules depend on it */
function build(ctx: Ctx, config: unknown, source: string): Lab | undefined {
  const stack = stackName(ctx, source);
  const top = topLevel(ctx, config);
  const meta = readMap(ctx, "lab", top.lab, LAB_KEYS, "lab");
  let profile: Profile = choice(ctx, "lab.profile", meta?.profile, PROFILES, "csit", "a lab profile");
  if (ctx.failedAt("lab") || ctx.failed("lab.profile")) {
    // a near miss ("locl") is reported and then taken as meant, so the rest is still checked
    const guess = typeof meta?.profile === "string" ? nearest(meta.profile, PROFILES) : undefined;
    if (guess === undefined) return undefined;
    profile = guess as Profile;
  }
  const name = str(ctx, "lab.name", meta?.name, {
    expected: NAME_EXPECTED,
    pattern: NAME_RE,
    def: nameFrom(source),
  });
  const d = defaultsFor(profile);

  const hosts = list(ctx, "hosts", top.hosts, (p, v) => parseHost(ctx, p, v), {
    expected: "a list of hosts (the DUTs and the TG)",
    minItems: 1,
  });
  const tuning = parseTuning(ctx, top.tuning, d);
  const qemu = parseQemu(ctx, top.qemu, d, stack);
  const image = parseImage(ctx, top.image, stack);
  const vswitch = parseVswitch(ctx, top.vswitch, d);
  const vms = parseVms(ctx, top.vms, d, vswitch, stack);
  const tg = parseTg(ctx, top.tg, d, hosts, stack);
  const matrix = parseMatrix(ctx, top.matrix, d);
  return { source, stack, name, profile, hosts, tuning, qemu, image, vswitch, vms, tg, matrix };
}

/** The stack name: given by the caller, else from a Pulumi.<stack>.yaml source, else the default. */
function stackName(ctx: Ctx, source: string): string {
  const given = ctx.opts.stack ?? stackFromFileName(source);
  if (given === undefined) return DEFAULT_STACK;
  if (!STACK_NAME_RE.test(given)) {
    ctx.error(
      "",
      "a stack name of lower-case letters, digits and dashes, starting with a letter or digit, at most 31 " +
        "(it names the stack's run dir /run/vhost-perf-lab/<stack>, its state dir and its DPDK file prefix)",
      `${JSON.stringify(given)} (the stack${ctx.opts.stack === undefined ? ` of ${source}` : ""})`,
      "rename the stack: pulumi stack rename <name> (and its file to Pulumi.<name>.yaml)",
    );
    return DEFAULT_STACK;
  }
  return given;
}

/**
 * A path on a lab host (absolute, no . or .., no commas, whitespace or control characters, no
 * segment starting with "-", no system location: paths.ts). `def` applies when absent.
 */
function hostPath(
  ctx: Ctx,
  path: string,
  v: unknown,
  o: { expected: string; kind: HostPathKind; stack: string; def?: string },
): string {
  const s = str(ctx, path, v, { expected: o.expected, def: o.def });
  if (typeof v !== "string") return s;
  const problem = hostPathProblem(v, o.kind, o.stack);
  if (problem === undefined) return v;
  ctx.error(path, o.expected, `${describe(v)} (${problem.reason})`, problem.fix);
  return o.def ?? "";
}

function nameFrom(source: string): string {
  const m = /Pulumi\.([a-z][a-z0-9-]{0,30})\.ya?ml$/.exec(source);
  return m?.[1] ?? "lab";
}

/** Keep this project's keys (namespace stripped if still there), ignore other namespaces. */
function topLevel(ctx: Ctx, config: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!isMap(config)) {
    ctx.error("", "a map of config keys (hosts, qemu, vswitch, ...)", describe(config));
    return out;
  }
  for (const [rawKey, rawValue] of Object.entries(config)) {
    let key = rawKey;
    if (key.startsWith(`${NAMESPACE}:`)) key = key.slice(NAMESPACE.length + 1);
    else if (key.includes(":")) continue; // pulumi:, command:, ... belong to others
    if (!(TOP_KEYS as readonly string[]).includes(key)) {
      unknownKey(ctx, "", key, TOP_KEYS, "the lab config");
      continue;
    }
    let value = rawValue;
    // pulumi.runtime.allConfig() gives structured values as JSON text; accept it if a caller did not parse
    if (typeof value === "string" && /^\s*[[{]/.test(value)) {
      try {
        value = JSON.parse(value);
      } catch {
        ctx.error(
          key,
          "a structured value (a map or a list)",
          "text that starts like JSON but does not parse",
        );
        continue;
      }
    }
    out[key] = value;
  }
  return out;
}

// ---------------------------------------------------------------- hosts

function parseHost(ctx: Ctx, path: string, v: unknown): Host {
  const m = readMap(ctx, path, v, HOST_KEYS, "a host", true);
  if (!m) return fallbackHost();
  const name = str(ctx, at(path, "name"), m.name, { expected: NAME_EXPECTED, pattern: NAME_RE });
  const rolesRead = list(
    ctx,
    at(path, "roles"),
    m.roles,
    (p, x) => choice<HostRole>(ctx, p, x, HOST_ROLES, undefined, "a host role"),
    { expected: "a list of host roles: [dut], [tg] or [dut, tg]", minItems: 1, unique: true },
  );
  const roles = HOST_ROLES.filter((r) => rolesRead.includes(r));
  const ssh = parseSsh(ctx, at(path, "ssh"), m.ssh);
  const numaNode = int(ctx, at(path, "numaNode"), m.numaNode, { min: 0, max: 63, def: 0 });
  const cpus = parseCpus(ctx, at(path, "cpus"), m.cpus, roles);
  const isDut = roles.includes("dut");
  const hugepages = parseHugepages(
    ctx,
    at(path, "hugepages"),
    m.hugepages,
    isDut ? undefined : 0,
    "host hugepages",
  );
  const nics = list(ctx, at(path, "nics"), m.nics, (p, x) => parseNic(ctx, p, x), {
    expected: "a list of NIC ports",
    def: [],
  });
  return { name, roles, ssh, numaNode, cpus, hugepages, nics };
}

function fallbackHost(): Host {
  return {
    name: "",
    roles: [],
    ssh: fallbackSsh(),
    numaNode: 0,
    cpus: {
      count: 1,
      threadsPerCore: 1,
      housekeeping: [],
      vswitchMain: undefined,
      vswitch: [],
      vms: [],
      tg: [],
      shared: false,
    },
    hugepages: { size: "2M", count: 0 },
    nics: [],
  };
}

function fallbackSsh(): Ssh {
  return {
    host: "",
    port: 22,
    user: "",
    privateKey: { kind: "file", path: "" },
    hostKey: { kind: "key", key: "" },
    managed: false,
  };
}

/** the management cable of a netns host is a /30: the machine takes .1 (mod 4), the host .2 */
const MGMT_ADDR_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
function mgmtAddrProblem(h: string): string | undefined {
  const m = MGMT_ADDR_RE.exec(h);
  if (!m || m.slice(1).some((o) => Number(o) > 255)) return "an IPv4 address";
  return Number(m[4]) % 4 === 2 ? undefined : "the second address of a /30 (last octet 2, 6, 10, ...)";
}
const LOOPBACK_RE = /^(localhost|127(\.\d{1,3}){3}|::1)$/;

function parseSsh(ctx: Ctx, path: string, v: unknown): Ssh {
  const m = readMap(ctx, path, v, SSH_KEYS, "an SSH connection", true);
  if (!m) return fallbackSsh();
  const managed = bool(ctx, at(path, "managed"), m.managed, false);
  let netns: string | undefined;
  if (!missing(m.netns)) {
    netns = str(ctx, at(path, "netns"), m.netns, {
      expected: "a network namespace name for the managed sshd's host ([a-z][a-z0-9-], up to 12 characters)",
      pattern: /^[a-z][a-z0-9-]{0,11}$/,
    });
    if (!managed) {
      ctx.error(
        at(path, "netns"),
        "netns only with managed: true",
        "managed: false",
        "set managed: true or remove netns",
      );
    }
  }
  const host = str(ctx, at(path, "host"), m.host, {
    expected:
      netns !== undefined
        ? "the netns host's address on its management cable (an IPv4 address ending in 2, 6, 10, ... of a /30)"
        : managed
          ? "a loopback address (127.0.0.1) for the managed sshd"
          : "a host name or IP address",
    pattern: /^[A-Za-z0-9]([A-Za-z0-9.:-]*[A-Za-z0-9])?$/,
    check: (h) =>
      netns !== undefined
        ? mgmtAddrProblem(h)
        : managed && !LOOPBACK_RE.test(h)
          ? "the managed sshd only listens on loopback"
          : undefined,
  });
  const port = int(ctx, at(path, "port"), m.port, { min: 1, max: 65535, def: 22 });
  const user = str(ctx, at(path, "user"), m.user, {
    expected: "a user name: root, or a user with NOPASSWD sudo",
    pattern: /^[a-z_][a-z0-9_.-]{0,31}$/,
  });
  const privateKey = parseKeyRef(ctx, at(path, "privateKey"), m.privateKey, managed);
  const hostKey = readHostKey(ctx, at(path, "hostKey"), m.hostKey, managed, host, port);
  return { host, port, user, privateKey, hostKey, managed, ...(netns !== undefined ? { netns } : {}) };
}

function parseKeyRef(ctx: Ctx, path: string, v: unknown, managed: boolean): KeyRef {
  const expected = "the SSH private key: a Pulumi secret, or {file: <path on the machine running Pulumi>}";
  if (missing(v)) {
    if (managed) return { kind: "file", path: MANAGED_PRIVATE_KEY };
    ctx.error(path, expected, describe(v), `run: pulumi config set --secret --path '${path}' < ~/.ssh/<key>`);
    return { kind: "file", path: "" };
  }
  if (isMap(v) && !isSecureObject(v)) {
    const m = readMap(ctx, path, v, KEY_FILE_KEYS, "a key file reference") ?? {};
    return {
      kind: "file",
      path: str(ctx, at(path, "file"), m.file, { expected: "a file path", pattern: ANY_PATH_RE }),
    };
  }
  if (managed) {
    ctx.error(
      path,
      "no private key: the managed sshd generates its own keys",
      "a secret (value hidden)",
      `remove it (the key is kept in ${MANAGED_PRIVATE_KEY}), or set managed: false`,
    );
  }
  return { kind: "secret", secret: secret(ctx, path, v, "the SSH private key", undefined, true) };
}

function readHostKey(
  ctx: Ctx,
  path: string,
  v: unknown,
  managed: boolean,
  host: string,
  port: number,
): HostKeyRef {
  const expected =
    `the host's public key line "<type> <base64> [comment]" (type ${HOST_KEY_TYPES.join(", ")}), ` +
    "or {file: <its .pub file on the machine running Pulumi>}";
  const origin = { host, port };
  if (missing(v)) {
    if (managed) return { kind: "file", path: MANAGED_HOST_KEY };
    ctx.error(path, expected, describe(v), `pin it, from a trusted path: ${hostKeyScanCommand(origin)}`);
    return { kind: "key", key: "" };
  }
  if (isMap(v)) {
    const m = readMap(ctx, path, v, KEY_FILE_KEYS, "a host key file reference") ?? {};
    return {
      kind: "file",
      path: str(ctx, at(path, "file"), m.file, { expected: "a file path", pattern: ANY_PATH_RE }),
    };
  }
  if (typeof v !== "string") {
    ctx.error(path, expected, describe(v), `pin it, from a trusted path: ${hostKeyScanCommand(origin)}`);
    return { kind: "key", key: "" };
  }
  const r = parseHostKey(v, origin);
  if (!r.ok) {
    ctx.error(path, expected, `${describe(v)} (${r.error})`, r.fix);
    return { kind: "key", key: "" };
  }
  return { kind: "key", key: r.line };
}

function parseCpus(ctx: Ctx, path: string, v: unknown, roles: HostRole[]): CpuPlan {
  const m = readMap(ctx, path, v, CPU_KEYS, "a CPU plan", true);
  if (!m) return fallbackHost().cpus;
  const isDut = roles.includes("dut");
  const isTg = roles.includes("tg");
  const count = int(ctx, at(path, "count"), m.count, {
    min: 1,
    max: 8192,
    expected: "the number of logical CPUs of the host (nproc), an integer >= 1",
  });
  const threadsPerCore = int(ctx, at(path, "threadsPerCore"), m.threadsPerCore, { min: 1, max: 8, def: 1 });
  const housekeeping = cpuSet(ctx, at(path, "housekeeping"), m.housekeeping);
  const notFor = (key: string, role: HostRole) => {
    if (m[key] !== undefined) {
      ctx.error(
        at(path, key),
        `no ${key} CPUs: this host's roles are [${roles.join(", ")}]`,
        describe(m[key]),
        `remove it, or add "${role}" to roles`,
      );
    }
  };
  let vswitch: number[] = [];
  let vms: number[][] = [];
  let tg: number[] = [];
  let vswitchMain: number | undefined;
  if (isDut) {
    vswitch = cpuSet(ctx, at(path, "vswitch"), m.vswitch);
    vms = list(ctx, at(path, "vms"), m.vms, (p, x) => cpuSet(ctx, p, x), {
      expected: 'one CPU list per VM, e.g. ["3-5"]',
    });
    vswitchMain =
      m.vswitchMain === undefined
        ? housekeeping[0]
        : int(ctx, at(path, "vswitchMain"), m.vswitchMain, { min: 0, expected: "one CPU id" });
  } else {
    notFor("vswitch", "dut");
    notFor("vswitchMain", "dut");
    notFor("vms", "dut");
  }
  if (isTg) tg = cpuSet(ctx, at(path, "tg"), m.tg);
  else notFor("tg", "tg");
  const shared = bool(ctx, at(path, "shared"), m.shared, false);
  return { count, threadsPerCore, housekeeping, vswitchMain, vswitch, vms, tg, shared };
}

function parseHugepages(
  ctx: Ctx,
  path: string,
  v: unknown,
  defCount: number | undefined,
  what: string,
): Hugepages {
  if (missing(v) && defCount !== undefined) return { size: "2M", count: defCount };
  const m = readMap(ctx, path, v, HUGEPAGES_KEYS, what, true);
  if (!m) return { size: "2M", count: 0 };
  const size = choice(ctx, at(path, "size"), m.size, HUGEPAGE_SIZES, undefined, "a hugepage size");
  const count = int(ctx, at(path, "count"), m.count, { min: 0, max: 10_000_000 });
  return { size, count };
}

const PCI_ONLY = ["model", "speedGbps", "driver"];

function parseNic(ctx: Ctx, path: string, v: unknown): Nic {
  const m = readMap(ctx, path, v, NIC_KEYS, "a NIC port", true);
  if (!m) return { kind: "veth", name: "", ifname: "", peer: "", netns: "", mtu: 1500 };
  const name = str(ctx, at(path, "name"), m.name, {
    expected: "a port name (letters, digits, _ and -)",
    pattern: /^[A-Za-z][A-Za-z0-9_-]{0,30}$/,
  });
  const hasPci = !missing(m.pci);
  const hasVeth = !missing(m.veth);
  if (hasPci && hasVeth) {
    ctx.error(path, "either pci (a physical port) or veth (a virtual port), not both", "both pci and veth");
  }
  if (hasVeth) {
    for (const k of hasPci ? [] : PCI_ONLY) {
      if (m[k] !== undefined) {
        ctx.error(at(path, k), `no ${k}: it only applies to pci ports`, describe(m[k]), `remove ${k}`);
      }
    }
    const vm = readMap(ctx, at(path, "veth"), m.veth, VETH_KEYS, "a veth pair", true);
    if (!vm) return { kind: "veth", name, ifname: "", peer: "", netns: "", mtu: 1500 };
    const ifOpts = { expected: "an interface name (1-15 of A-Z a-z 0-9 _ . -)", pattern: IFNAME_RE };
    const ifname = str(ctx, at(at(path, "veth"), "ifname"), vm.ifname, ifOpts);
    const peer = str(ctx, at(at(path, "veth"), "peer"), vm.peer, ifOpts);
    const netns = str(ctx, at(at(path, "veth"), "netns"), vm.netns, {
      expected: "a network namespace name",
      pattern: /^[A-Za-z0-9_.-]{1,64}$/,
    });
    const mtu = int(ctx, at(path, "mtu"), m.mtu, { min: 68, max: 9710, def: 1500 });
    return { kind: "veth", name, ifname, peer, netns, mtu };
  }
  let pci = "";
  if (!hasPci) {
    ctx.error(
      at(path, "pci"),
      'pci: "0000:18:00.0" (a physical port), or veth: {ifname, peer, netns} (the local lab)',
      describe(m.pci),
    );
  } else {
    const raw = str(ctx, at(path, "pci"), m.pci, {
      expected: 'a PCI address like "0000:18:00.0" (lspci -D)',
      pattern: PCI_RE,
    });
    const pm = PCI_RE.exec(raw);
    if (pm) pci = `${pm[1] ?? "0000"}:${pm[2]}:${pm[3]}.${pm[4]}`.toLowerCase();
  }
  const model = str(ctx, at(path, "model"), m.model, {
    expected: "the NIC model tag as CSIT writes it (x710, xxv710, xl710, e810cq, cx556a, ...)",
    pattern: /^[a-z0-9]{2,16}$/,
    def: hasPci ? undefined : "",
  });
  const knownSpeed = NIC_SPEEDS[model];
  const speedGbps = int(ctx, at(path, "speedGbps"), m.speedGbps, {
    min: 1,
    max: 800,
    def: knownSpeed,
    expected: `the port speed in Gb/s (an integer)${knownSpeed ? "" : `; it has no default for model "${model}"`}`,
  });
  const driver = str(ctx, at(path, "driver"), m.driver, {
    expected: "a kernel driver name (vfio-pci, uio_pci_generic, mlx5_core, ...)",
    pattern: /^[a-z0-9_-]{2,32}$/,
    def: "vfio-pci",
  });
  const mtu = int(ctx, at(path, "mtu"), m.mtu, { min: 68, max: 9710, def: 9200 });
  return { kind: "pci", name, pci, model, speedGbps, driver, mtu };
}

// ---------------------------------------------------------------- tuning

function parseTuning(ctx: Ctx, v: unknown, d: ProfileDefaults): Tuning {
  const path = "tuning";
  const m = readMap(ctx, path, v, TUNING_KEYS, "tuning") ?? {};
  const apply = list(
    ctx,
    at(path, "apply"),
    m.apply,
    (p, x) => choice(ctx, p, x, TUNINGS, undefined, "a tuning"),
    {
      expected: `a list of tunings (${TUNINGS.join(", ")})`,
      def: d.tuning.apply,
      unique: true,
    },
  );
  const kernelArgs = list(
    ctx,
    at(path, "kernelArgs"),
    m.kernelArgs,
    (p, x) =>
      str(ctx, p, x, {
        expected: "a kernel argument: name or name=value, no spaces",
        pattern: /^[A-Za-z0-9_.-]+(=[^\s"']+)?$/,
        check: (s) => {
          const key = s.split("=")[0] as string;
          return DERIVED_KERNEL_ARGS.includes(key)
            ? `${key} is derived from the CPU plan (every CPU but housekeeping); remove it and set hosts[].cpus.housekeeping`
            : undefined;
        },
      }),
    { expected: "a list of kernel arguments", def: d.tuning.kernelArgs, unique: true },
  );
  const rm = readMap(ctx, at(path, "reboot"), m.reboot, REBOOT_KEYS, "the reboot policy") ?? {};
  const allowed = bool(ctx, at(at(path, "reboot"), "allowed"), rm.allowed, d.tuning.rebootAllowed);
  const timeoutS = int(ctx, at(at(path, "reboot"), "timeoutS"), rm.timeoutS, {
    min: 60,
    max: 7200,
    def: d.tuning.rebootTimeoutS,
  });
  return { apply, kernelArgs, reboot: { allowed, timeoutS } };
}

// ---------------------------------------------------------------- qemu

/**
 * A map whose key set depends on its `kind`. Keys that belong to another kind are named as such.
 */
function readKinded<K extends string>(
  ctx: Ctx,
  path: string,
  v: unknown,
  keysFor: Record<K, readonly string[]>,
  what: string,
  defKind?: K,
): { kind: K; m: Record<string, unknown> } | undefined {
  const kinds = Object.keys(keysFor) as K[];
  const expected = `${what}: a map with kind (${kinds.join(", ")}) and that kind's keys`;
  if (missing(v) || !isMap(v) || isSecureObject(v)) {
    ctx.error(path, expected, describe(v));
    return undefined;
  }
  if (missing(v.kind) && defKind === undefined) {
    const guess = kinds.find((k) =>
      Object.keys(v).every((key) => (keysFor[k] as readonly string[]).includes(key)),
    );
    ctx.error(
      at(path, "kind"),
      `${what} kind: one of ${kinds.join(", ")}`,
      describe(v.kind),
      guess ? `add kind: ${guess}` : undefined,
    );
    return undefined;
  }
  const kind = choice(ctx, at(path, "kind"), v.kind, kinds, defKind, `${what} kind`);
  if (ctx.failed(at(path, "kind"))) return undefined;
  const keys = ["kind", ...keysFor[kind]];
  for (const key of Object.keys(v)) {
    if (keys.includes(key)) continue;
    const owner = kinds.find((k) => (keysFor[k] as readonly string[]).includes(key));
    if (owner) {
      ctx.error(
        at(path, key),
        `the keys of a ${kind} ${what}: ${keys.join(", ")}`,
        `"${key}", which belongs to kind ${owner}`,
        `remove it, or set kind: ${owner}`,
      );
    } else unknownKey(ctx, path, key, keys, `a ${kind} ${what}`);
  }
  return { kind, m: v };
}

const sha256Opts = {
  expected: "a SHA-256 checksum: 64 lower-case hex digits",
  pattern: SHA256_RE,
  hint: "sha256sum <file>",
};

function parseQemuSource(ctx: Ctx, path: string, v: unknown, def: QemuSource | undefined): QemuSource {
  if (missing(v) && def) return def;
  if (missing(v)) {
    ctx.error(
      path,
      "where QEMU comes from: {kind: tarball, url, sha256}, {kind: debian, package, suite, version} or {kind: local, path, sha256}",
      describe(v),
      "e.g. kind: tarball, url: https://download.qemu.org/qemu-7.2.0.tar.xz, sha256: <sha256sum of it>",
    );
    return { kind: "tarball", url: "", sha256: "" };
  }
  const r = readKinded(ctx, path, v, QEMU_SOURCE_KEYS, "QEMU source");
  if (!r) return { kind: "tarball", url: "", sha256: "" };
  const { m } = r;
  switch (r.kind) {
    case "tarball":
      return {
        kind: "tarball",
        url: str(ctx, at(path, "url"), m.url, {
          expected: "an http(s) URL of a QEMU source tarball",
          pattern: URL_RE,
        }),
        sha256: str(ctx, at(path, "sha256"), m.sha256, sha256Opts),
      };
    case "debian":
      return {
        kind: "debian",
        package: str(ctx, at(path, "package"), m.package, {
          expected: "a Debian source package name",
          pattern: /^[a-z0-9][a-z0-9.+-]+$/,
          def: "qemu",
        }),
        suite: str(ctx, at(path, "suite"), m.suite, {
          expected: "a Debian suite (bookworm, trixie, bookworm-backports, ...)",
          pattern: /^[a-z]+(-[a-z]+)?$/,
        }),
        version: str(ctx, at(path, "version"), m.version, {
          expected: 'a pinned Debian version like "1:7.2+dfsg-7+deb12u18" (apt-cache showsrc qemu)',
          pattern: /^(\d+:)?[0-9][A-Za-z0-9.+~-]*$/,
        }),
      };
    default:
      return {
        kind: "local",
        path: str(ctx, at(path, "path"), m.path, {
          expected: "a tarball path on the machine running Pulumi",
          pattern: ANY_PATH_RE,
        }),
        sha256: str(ctx, at(path, "sha256"), m.sha256, sha256Opts),
      };
  }
}

function parseQemu(ctx: Ctx, v: unknown, d: ProfileDefaults, stack: string): Qemu {
  const path = "qemu";
  const keys = QEMU_KEYS;
  const required = d.qemu.source === undefined;
  const fallback: Qemu = {
    version: "",
    source: { kind: "tarball", url: "", sha256: "" },
    patchDir: undefined,
    configureFlags: [],
    prefix: "",
    accel: "kvm",
  };
  if (required && missing(v)) {
    ctx.error(
      path,
      "the QEMU build: a map with version and source (and optionally patchDir, configureFlags, prefix, accel)",
      describe(v),
      'e.g. version: "7.2.0", source: {kind: tarball, url: https://download.qemu.org/qemu-7.2.0.tar.xz, sha256: ...}',
    );
    return fallback;
  }
  const m = readMap(ctx, path, v, keys, "the QEMU build", required);
  if (!m && required) return fallback;
  const q = m ?? {};
  const version = str(ctx, at(path, "version"), q.version, {
    expected: 'a QEMU version like "7.2" or "7.2.0" (quoted)',
    pattern: /^\d{1,2}\.\d{1,2}(\.\d{1,2})?$/,
    def: d.qemu.version,
  });
  const source = parseQemuSource(ctx, at(path, "source"), q.source, d.qemu.source);
  // "" means no patches (an absent key takes the profile's default)
  const patchRaw = optStr(ctx, at(path, "patchDir"), q.patchDir, {
    expected:
      'a directory of *.patch files relative to the project root (e.g. "patches/qemu-7.2"), or "" for none',
  });
  const patchProblem = patchRaw ? repoPathProblem(patchRaw) : undefined;
  if (patchProblem) {
    ctx.error(
      at(path, "patchDir"),
      'a directory of *.patch files relative to the project root (e.g. "patches/qemu-7.2"), or "" for none',
      `${describe(patchRaw)} (${patchProblem.reason})`,
      patchProblem.fix,
    );
  }
  const patchDir = missing(q.patchDir)
    ? d.qemu.patchDir
    : patchRaw === "" || patchProblem
      ? undefined
      : patchRaw?.replace(/\/+$/, "");
  const configureFlags = list(
    ctx,
    at(path, "configureFlags"),
    q.configureFlags,
    (p, x) =>
      str(ctx, p, x, {
        expected: "a configure flag like --target-list=x86_64-softmmu",
        pattern: /^--[a-z0-9][a-z0-9-]*(=\S+)?$/,
        check: (s) => (s.startsWith("--prefix") ? "the prefix is qemu.prefix" : undefined),
      }),
    { expected: "a list of ./configure flags", def: d.qemu.configureFlags, unique: true },
  );
  const prefix = hostPath(ctx, at(path, "prefix"), q.prefix, {
    expected: "an absolute install prefix on the DUT, a directory of the lab's own",
    kind: "dir",
    stack,
    def: `/opt/qemu-${version || "x"}`,
  });
  const accel = choice(ctx, at(path, "accel"), q.accel, ACCELS, d.qemu.accel, "a QEMU accelerator");
  return { version, source, patchDir, configureFlags, prefix, accel };
}

// ---------------------------------------------------------------- image

function parseImageSource(ctx: Ctx, path: string, v: unknown): ImageSource {
  if (missing(v)) return { kind: "build", suite: "bookworm" };
  const r = readKinded(ctx, path, v, IMAGE_SOURCE_KEYS, "image source");
  if (!r) return { kind: "build", suite: "bookworm" };
  const { m } = r;
  switch (r.kind) {
    case "build":
      return {
        kind: "build",
        suite: str(ctx, at(path, "suite"), m.suite, {
          expected: "a Debian suite for debootstrap",
          pattern: /^[a-z]+$/,
          def: "bookworm",
        }),
      };
    case "url":
      return {
        kind: "url",
        url: str(ctx, at(path, "url"), m.url, { expected: "an http(s) URL of a VM image", pattern: URL_RE }),
        sha256: str(ctx, at(path, "sha256"), m.sha256, sha256Opts),
      };
    default: {
      const p = str(ctx, at(path, "path"), m.path, {
        expected: "an image path on the machine running Pulumi",
        pattern: ANY_PATH_RE,
      });
      const sha = optStr(ctx, at(path, "sha256"), m.sha256, sha256Opts);
      return { kind: "local", path: p, sha256: sha };
    }
  }
}

function parseImage(ctx: Ctx, v: unknown, stack: string): Image {
  const path = "image";
  const m = readMap(ctx, path, v, IMAGE_KEYS, "the VM image") ?? {};
  const imgPath = hostPath(ctx, at(path, "path"), m.path, {
    expected: "an absolute image path on the DUT, outside the system's directories",
    kind: "file",
    stack,
    def: DEFAULT_IMAGE_PATH,
  });
  const format = choice(
    ctx,
    at(path, "format"),
    m.format,
    ["qcow2", "raw"] as const,
    "qcow2",
    "an image format",
  );
  const source = parseImageSource(ctx, at(path, "source"), m.source);
  const um = readMap(ctx, at(path, "user"), m.user, GUEST_USER_KEYS, "the guest user") ?? {};
  const name = str(ctx, at(at(path, "user"), "name"), um.name, {
    expected: "a guest user name",
    pattern: /^[a-z_][a-z0-9_-]{0,31}$/,
    def: DEFAULT_GUEST_USER,
  });
  const password = secret(
    ctx,
    at(at(path, "user"), "password"),
    um.password,
    "the guest password",
    defaultGuestPassword(),
  );
  const reqs = list(
    ctx,
    at(path, "requirements"),
    m.requirements,
    (p, x) => choice(ctx, p, x, IMAGE_REQUIREMENTS, undefined, "an image requirement"),
    { expected: "a list of image requirements", def: [...IMAGE_REQUIREMENTS], unique: true },
  );
  const requirements = IMAGE_REQUIREMENTS.filter((r) => reqs.includes(r));
  return { path: imgPath, format, source, user: { name, password }, requirements };
}

// ---------------------------------------------------------------- vswitch, vms

function readOptions(
  ctx: Ctx,
  path: string,
  v: unknown,
  kind: string,
  keysFor: Record<string, readonly string[]>,
  what: string,
): Record<string, unknown> {
  if (missing(v)) return {};
  const keys = keysFor[kind] ?? [];
  if (!isMap(v)) {
    ctx.error(path, `${what} options: a map with keys ${keys.join(", ")}`, describe(v));
    return {};
  }
  for (const key of Object.keys(v)) {
    if (keys.includes(key)) continue;
    const owner = Object.keys(keysFor).find((k) => (keysFor[k] as readonly string[]).includes(key));
    if (owner) {
      ctx.error(
        at(path, key),
        `options of ${kind}: ${keys.join(", ")}`,
        `"${key}", an option of ${owner}`,
        `remove it, or set kind: ${owner}`,
      );
    } else unknownKey(ctx, path, key, keys, `the ${kind} options`);
  }
  return v;
}

function parseVswitch(ctx: Ctx, v: unknown, d: ProfileDefaults): Vswitch {
  const path = "vswitch";
  const m = readMap(ctx, path, v, VSWITCH_KEYS, "the vswitch") ?? {};
  const kind = choice(ctx, at(path, "kind"), m.kind, VSWITCH_KINDS, d.vswitchKind, "a vswitch");
  const memoryMiB = int(ctx, at(path, "memoryMiB"), m.memoryMiB, {
    min: 64,
    max: 1 << 20,
    def: d.vswitchMemoryMiB[kind],
    expected: "the vswitch's hugepage memory in MiB (DPDK socket-mem), an integer >= 64",
  });
  const op = at(path, "options");
  const o = readOptions(ctx, op, m.options, kind, VSWITCH_OPTION_KEYS, "vswitch");
  switch (kind) {
    case "testpmd":
      return {
        kind,
        memoryMiB,
        options: {
          forwardMode: choice(
            ctx,
            at(op, "forwardMode"),
            o.forwardMode,
            ["io", "mac"] as const,
            d.testpmd.forwardMode,
          ),
          burst: int(ctx, at(op, "burst"), o.burst, { min: 1, max: 512, def: d.testpmd.burst }),
          rxd: int(ctx, at(op, "rxd"), o.rxd, { min: 64, max: 4096, def: d.testpmd.rxd }),
          txd: int(ctx, at(op, "txd"), o.txd, { min: 64, max: 4096, def: d.testpmd.txd }),
          mbufs: int(ctx, at(op, "mbufs"), o.mbufs, { min: 1024, max: 10_000_000, def: d.testpmd.mbufs }),
        },
      };
    case "vpp":
      return {
        kind,
        memoryMiB,
        options: {
          mode: choice(ctx, at(op, "mode"), o.mode, ["l2xc", "l2bd"] as const, d.vpp.mode),
          buffers: int(ctx, at(op, "buffers"), o.buffers, { min: 1024, max: 10_000_000, def: d.vpp.buffers }),
          rxQueues: int(ctx, at(op, "rxQueues"), o.rxQueues, { min: 1, max: 16, def: d.vpp.rxQueues }),
          uioDriver: choice(
            ctx,
            at(op, "uioDriver"),
            o.uioDriver,
            ["vfio-pci", "uio_pci_generic"] as const,
            d.vpp.uioDriver,
          ),
          version: str(ctx, at(op, "version"), o.version, {
            def: d.vpp.version,
            expected: 'FD.io\'s package version of VPP, e.g. "24.10-release" (quoted)',
            pattern: VPP_VERSION_RE,
          }),
          install: parseVppInstall(ctx, at(op, "install"), o.install, d.vpp.install),
          noMultiSeg: bool(ctx, at(op, "noMultiSeg"), o.noMultiSeg, d.vpp.noMultiSeg),
        },
      };
    default:
      return {
        kind,
        memoryMiB,
        options: {
          rxQueues: int(ctx, at(op, "rxQueues"), o.rxQueues, { min: 1, max: 16, def: d.ovs.rxQueues }),
        },
      };
  }
}

/** FD.io's VPP package versions: 24.10-release, 24.10.1-release, 25.02-rc0~12-g0123abc. */
export const VPP_VERSION_RE = /^[0-9]{2}\.[0-9]{2}(\.[0-9]+)?(-[A-Za-z0-9.~+]+)*$/;

/** vswitch.options.install: {kind: preinstalled} or {kind: repository, url, suite, component, keyUrl, keyFingerprint}. */
function parseVppInstall(ctx: Ctx, path: string, v: unknown, def: VppInstall): VppInstall {
  if (missing(v)) return def;
  const all = VPP_INSTALL_KEYS;
  const m = readMap(ctx, path, v, all, "where VPP comes from");
  if (!m) return def;
  const kind = choice(
    ctx,
    at(path, "kind"),
    m.kind,
    ["preinstalled", "repository"] as const,
    undefined,
    "the install kind",
  );
  if (kind === "preinstalled") {
    for (const k of Object.keys(m)) {
      if (k !== "kind")
        ctx.error(
          at(path, k),
          "only kind with kind: preinstalled",
          `"${k}"`,
          "remove it, or set kind: repository",
        );
    }
    return { kind };
  }
  const url = str(ctx, at(path, "url"), m.url, {
    expected: "the https:// base of FD.io's apt repository, e.g. https://packagecloud.io/fdio/2410/debian",
    pattern: /^https:\/\/[A-Za-z0-9.-]+(:\d+)?(\/[A-Za-z0-9._~%+-]+)*\/?$/,
  });
  const word = (k: string, expected: string): string =>
    str(ctx, at(path, k), m[k], { expected, pattern: /^[a-z0-9][a-z0-9._-]{0,40}$/ });
  const suite = word("suite", "the distribution codename of the DUT, e.g. bookworm or jammy");
  const component = word("component", "the repository component, e.g. main");
  const keyUrl = str(ctx, at(path, "keyUrl"), m.keyUrl, {
    expected:
      "the https:// URL of the repository's signing key, e.g. https://packagecloud.io/fdio/2410/gpgkey",
    pattern: /^https:\/\/[A-Za-z0-9.-]+(:\d+)?(\/[A-Za-z0-9._~%+-]+)+$/,
  });
  const fpr = str(ctx, at(path, "keyFingerprint"), m.keyFingerprint, {
    expected:
      "the signing key's fingerprint: 40 hex digits (spaces allowed), as `gpg --show-keys <key file>` prints it",
    pattern: /^\s*([0-9A-Fa-f]{4}\s*){10}$/,
  });
  return {
    kind,
    url: url.replace(/\/$/, ""),
    suite,
    component,
    keyUrl,
    keyFingerprint: fpr.replace(/\s+/g, "").toUpperCase(),
  };
}

/** The placeholders of vms.socketTemplate. */
export const SOCKET_PLACEHOLDERS = ["{vm}", "{n}", "{stack}"] as const;

/** One socket path: {vm} (1-based VM number), {n} (NIC 1 or 2), {stack} (the Pulumi stack name). */
export function socketPath(template: string, vm: number, n: number, stack: string): string {
  return template
    .replace(/\{vm\}/g, String(vm))
    .replace(/\{n\}/g, String(n))
    .replace(/\{stack\}/g, stack);
}

/** sockets[vm][0..1] of `count` VMs. */
export function expandSocketTemplate(template: string, count: number, stack: string): string[][] {
  return Array.from({ length: count }, (_, i) => [1, 2].map((n) => socketPath(template, i + 1, n, stack)));
}

function parseVms(ctx: Ctx, v: unknown, d: ProfileDefaults, vswitch: Vswitch, stack: string): Vms {
  const path = "vms";
  const m = readMap(ctx, path, v, VMS_KEYS, "the VMs") ?? {};
  const count = int(ctx, at(path, "count"), m.count, {
    min: 1,
    max: 64,
    def: d.vms.count,
    expected: "VMs per DUT, an integer 1..64",
  });
  const vcpus = int(ctx, at(path, "vcpus"), m.vcpus, { min: 1, max: 64, def: d.vms.vcpus });
  const memoryMiB = int(ctx, at(path, "memoryMiB"), m.memoryMiB, {
    min: 256,
    max: 1 << 20,
    def: d.vms.memoryMiB,
  });
  const queues = int(ctx, at(path, "queues"), m.queues, { min: 1, max: 16, def: d.vms.queues });
  const msix = bool(ctx, at(path, "msix"), m.msix, true);
  const backend = choice(ctx, at(path, "backend"), m.backend, VM_BACKENDS, "qemu", "the VM launcher");
  let socketTemplate: string | undefined;
  let sockets: string[][];
  const sockPath = { expected: "an absolute socket path", kind: "socket" as const, stack };
  if (!missing(m.sockets)) {
    if (!missing(m.socketTemplate)) {
      ctx.error(
        at(path, "socketTemplate"),
        "either socketTemplate or sockets, not both",
        "both",
        "keep one of them",
      );
    }
    sockets = list(
      ctx,
      at(path, "sockets"),
      m.sockets,
      (p, x) =>
        list(ctx, p, x, (pp, y) => hostPath(ctx, pp, y, sockPath), {
          expected: "two socket paths for one VM",
        }),
      { expected: "one pair of vhost-user socket paths per VM" },
    );
  } else {
    const tp = at(path, "socketTemplate");
    const expected = "an absolute socket path template with {vm} and {n} (and {stack}, the stack name)";
    socketTemplate = str(ctx, tp, m.socketTemplate, {
      expected,
      check: (s) => {
        const known: readonly string[] = SOCKET_PLACEHOLDERS;
        const bad = (s.match(/\{[^}]*\}/g) ?? []).find((t) => !known.includes(t));
        return bad ? `unknown placeholder ${bad}; only ${SOCKET_PLACEHOLDERS.join(", ")} exist` : undefined;
      },
      def: SOCKET_TEMPLATES[vswitch.kind],
    });
    // the template's text reaches QEMU (path=...,server=on) and the vswitch: check a resolved path
    const problem = ctx.failedAt(tp)
      ? undefined
      : hostPathProblem(socketPath(socketTemplate, 1, 1, stack), "socket", stack);
    if (problem) {
      // sockets straight in the shared run root: the fix may be one "{stack}/" away
      const root = `${LAB_RUN_ROOT}/`;
      const inStack = `${root}{stack}/${socketTemplate.slice(root.length)}`;
      const fix =
        socketTemplate.startsWith(root) &&
        !socketTemplate.startsWith(`${root}{stack}/`) &&
        hostPathProblem(socketPath(inStack, 1, 1, stack), "socket", stack) === undefined
          ? `write ${inStack}`
          : problem.fix;
      ctx.error(tp, expected, `${describe(socketTemplate)} (${problem.reason})`, fix);
    }
    sockets = expandSocketTemplate(socketTemplate, count, stack);
  }
  const sshPortBase = int(ctx, at(path, "sshPortBase"), m.sshPortBase, {
    min: 1024,
    max: 65000,
    def: d.vms.sshPortBase,
  });
  const guestHugepages = missing(m.guestHugepages)
    ? { size: "2M" as const, count: d.vms.guestHugepages }
    : parseHugepages(ctx, at(path, "guestHugepages"), m.guestHugepages, undefined, "guest hugepages");
  const workload = parseWorkload(ctx, at(path, "workload"), m.workload, d);
  return {
    backend,
    count,
    vcpus,
    memoryMiB,
    queues,
    msix,
    socketTemplate,
    sockets,
    sshPortBase,
    guestHugepages,
    workload,
  };
}

function parseWorkload(ctx: Ctx, path: string, v: unknown, d: ProfileDefaults): Workload {
  const t = d.testpmd;
  if (missing(v))
    return { kind: "testpmd", forwardMode: t.forwardMode, burst: t.burst, rxd: t.rxd, txd: t.txd };
  const r = readKinded<"testpmd" | "l3fwd">(ctx, path, v, WORKLOAD_KEYS, "guest workload", "testpmd");
  if (!r || r.kind === "l3fwd") return r ? { kind: "l3fwd" } : { kind: "testpmd", ...t };
  const { m } = r;
  return {
    kind: "testpmd",
    forwardMode: choice(ctx, at(path, "forwardMode"), m.forwardMode, ["io", "mac"] as const, t.forwardMode),
    burst: int(ctx, at(path, "burst"), m.burst, { min: 1, max: 512, def: t.burst }),
    rxd: int(ctx, at(path, "rxd"), m.rxd, { min: 64, max: 4096, def: t.rxd }),
    txd: int(ctx, at(path, "txd"), m.txd, { min: 64, max: 4096, def: t.txd }),
  };
}

// ---------------------------------------------------------------- tg

function parseTg(ctx: Ctx, v: unknown, d: ProfileDefaults, hosts: Host[], stack: string): Tg {
  const path = "tg";
  const m = readMap(ctx, path, v, TG_KEYS, "the traffic generator") ?? {};
  const kind = choice(ctx, at(path, "kind"), m.kind, TG_KINDS, d.tgKind, "a traffic generator");
  const tgHosts = hosts.filter((h) => h.roles.includes("tg"));
  const only = tgHosts.length === 1 ? tgHosts[0]?.name : undefined;
  const host = str(ctx, at(path, "host"), m.host, {
    expected: `the name of the host with role tg${tgHosts.length > 1 ? ` (one of ${tgHosts.map((h) => h.name).join(", ")})` : ""}`,
    pattern: NAME_RE,
    def: only ?? (ctx.failed("hosts") ? "" : undefined),
  });
  const op = at(path, "options");
  const o = readOptions(ctx, op, m.options, kind, TG_OPTION_KEYS, "tg");
  if (kind === "trafgen") {
    return {
      kind,
      host,
      options: {
        maxRatePps: int(ctx, at(op, "maxRatePps"), o.maxRatePps, {
          min: 1,
          max: 100_000_000,
          def: d.trafgenMaxRatePps,
        }),
      },
    };
  }
  const tgCpus = hosts.find((h) => h.name === host)?.cpus.tg.length ?? 0;
  return {
    kind,
    host,
    options: {
      version: str(ctx, at(op, "version"), o.version, {
        expected: 'a TRex version like "3.03" (quoted)',
        pattern: /^v?\d+\.\d+(\.\d+)?$/,
        def: d.trex.version,
      }),
      installDir: hostPath(ctx, at(op, "installDir"), o.installDir, {
        expected: "an absolute directory on the TG, of the lab's own",
        kind: "dir",
        stack,
        def: d.trex.installDir,
      }),
      limitMemoryMiB: int(ctx, at(op, "limitMemoryMiB"), o.limitMemoryMiB, {
        min: 256,
        max: 1 << 20,
        def: d.trex.limitMemoryMiB,
      }),
      mbufFactor: int(ctx, at(op, "mbufFactor"), o.mbufFactor, { min: 1, max: 128, def: d.trex.mbufFactor }),
      workers: int(ctx, at(op, "workers"), o.workers, {
        min: 1,
        max: 64,
        def: Math.max(1, tgCpus - 2),
        expected: "worker threads per port pair (trex_cfg c), an integer >= 1",
      }),
      ...parseTrexTarball(ctx, at(op, "tarball"), o.tarball),
    },
  };
}

/** tg.options.tarball: {url, sha256} of TRex's release tarball (installed into installDir). */
function parseTrexTarball(ctx: Ctx, path: string, v: unknown): { tarball?: { url: string; sha256: string } } {
  if (missing(v)) return {};
  const m = readMap(ctx, path, v, TARBALL_KEYS, "TRex's release tarball", true);
  if (!m) return {};
  const url = str(ctx, at(path, "url"), m.url, {
    expected:
      "an https:// (or file://) URL of the release tarball, e.g. https://trex-tgn.cisco.com/trex/release/v3.03.tar.gz",
    pattern: /^(https:\/\/[A-Za-z0-9.-]+(:\d+)?|file:\/\/)\/[A-Za-z0-9._~%/+-]*\.tar\.gz$/,
  });
  const sha256 = str(ctx, at(path, "sha256"), m.sha256, {
    expected: "its sha256, 64 hex digits (sha256sum <file>)",
    pattern: /^[0-9a-f]{64}$/,
  });
  return { tarball: { url, sha256 } };
}

// ---------------------------------------------------------------- matrix

function parseFrame(ctx: Ctx, path: string, v: unknown): Frame {
  if (v === "imix") return "imix";
  if (typeof v === "string") {
    const n = /^(\d+)\s*[bB]$/.exec(v.trim());
    const hint = n
      ? `write the number: ${n[1]}`
      : /imix/i.test(v)
        ? 'write "imix" (CSIT IMIX_v4_1)'
        : undefined;
    ctx.error(path, 'a frame size in bytes (64..9216) or "imix"', describe(v), hint);
    return 64;
  }
  return int(ctx, path, v, { min: 64, max: 9216, expected: 'a frame size in bytes (64..9216) or "imix"' });
}

function parseMatrix(ctx: Ctx, v: unknown, d: ProfileDefaults): Matrix {
  const path = "matrix";
  const dm = d.matrix;
  const m = readMap(ctx, path, v, MATRIX_KEYS, "the test matrix") ?? {};
  const vringSizes = list(
    ctx,
    at(path, "vringSizes"),
    m.vringSizes,
    (p, x) => int(ctx, p, x, { min: 1, expected: "a vring size: 256, 512 or 1024" }),
    { expected: "a list of vring sizes", def: dm.vringSizes, minItems: 1, unique: true },
  );
  const cfsPolicies = list(
    ctx,
    at(path, "cfsPolicies"),
    m.cfsPolicies,
    (p, x) => choice(ctx, p, x, CFS_POLICIES, undefined, "a CFS policy"),
    { expected: "a list of CFS policies (cfs, cfsrr1)", def: dm.cfsPolicies, minItems: 1, unique: true },
  );
  const frames = list(ctx, at(path, "frames"), m.frames, (p, x) => parseFrame(ctx, p, x), {
    expected: 'a list of frame sizes (64, 1518, 9000, "imix")',
    def: dm.frames,
    minItems: 1,
    unique: true,
  });
  const tests = list(
    ctx,
    at(path, "tests"),
    m.tests,
    (p, x) => choice(ctx, p, x, TEST_TYPES, undefined, "a test type"),
    {
      expected: "a list of test types (mrr, ndrpdr)",
      def: dm.tests,
      minItems: 1,
      unique: true,
    },
  );
  const mp = at(path, "mrr");
  const mm = readMap(ctx, mp, m.mrr, MRR_KEYS, "the MRR settings") ?? {};
  const mrr = {
    trialDurationS: num(ctx, at(mp, "trialDurationS"), mm.trialDurationS, {
      min: 0,
      minExclusive: true,
      max: 3600,
      def: dm.mrr.trialDurationS,
    }),
    trials: int(ctx, at(mp, "trials"), mm.trials, { min: 1, max: 1000, def: dm.mrr.trials }),
  };
  const np = at(path, "ndrpdr");
  const nkeys = NDRPDR_KEYS;
  const nm = readMap(ctx, np, m.ndrpdr, nkeys, "the NDR/PDR search settings") ?? {};
  const dn = dm.ndrpdr;
  const ratio = { min: 0, max: 1, maxExclusive: true };
  const positive = { min: 0, minExclusive: true };
  const ndrpdr = {
    ndrLossRatio: num(ctx, at(np, "ndrLossRatio"), nm.ndrLossRatio, { ...ratio, def: dn.ndrLossRatio }),
    pdrLossRatio: num(ctx, at(np, "pdrLossRatio"), nm.pdrLossRatio, { ...ratio, def: dn.pdrLossRatio }),
    exceedRatio: num(ctx, at(np, "exceedRatio"), nm.exceedRatio, { ...ratio, def: dn.exceedRatio }),
    relativeWidth: num(ctx, at(np, "relativeWidth"), nm.relativeWidth, {
      ...positive,
      max: 1,
      maxExclusive: true,
      def: dn.relativeWidth,
    }),
    trialDurationS: num(ctx, at(np, "trialDurationS"), nm.trialDurationS, {
      ...positive,
      max: 3600,
      def: dn.trialDurationS,
    }),
    durationSumS: num(ctx, at(np, "durationSumS"), nm.durationSumS, { ...positive, def: dn.durationSumS }),
    timeLimitS: num(ctx, at(np, "timeLimitS"), nm.timeLimitS, { ...positive, def: dn.timeLimitS }),
    minLoadPps: num(ctx, at(np, "minLoadPps"), nm.minLoadPps, { ...positive, def: dn.minLoadPps }),
    maxLoadPps: optNum(ctx, at(np, "maxLoadPps"), nm.maxLoadPps, positive) ?? dn.maxLoadPps,
  };
  return { vringSizes, cfsPolicies, frames, tests, mrr, ndrpdr };
}
