/** Typed validation errors of a VmSpec. */

export const QEMU_SPEC_ISSUE_CODES = [
  "name", // VM name not usable as -name / file name
  "index", // VM index not an integer 0..255
  "path", // not an absolute path, or contains a control character
  "socket-path-length", // unix socket path longer than sun_path allows
  "accel", // not kvm or tcg
  "cpu-model", // TCG CPU model with characters QEMU's -cpu does not take
  "vcpus", // not an integer >= 1 (and <= 255 for the pc machine)
  "memory", // not a positive integer, or not a multiple of the hugepage size
  "hugepage-size", // not 2 or 1024 MiB
  "queue-size", // rx/tx queue size not a power of two in 256..1024
  "queues", // queue pairs not an integer 1..64
  "duplicate-socket", // two sockets of this VM share a path
  "mac", // malformed, multicast or duplicate MAC
  "port", // management ssh port not an integer 1..65535
  "no-nics", // no vhost-user NIC at all
  "argument", // an extra argument contains a NUL byte
] as const;
export type QemuSpecIssueCode = (typeof QEMU_SPEC_ISSUE_CODES)[number];

/** One problem: which field (e.g. `vhostUser[1].queueSize`), what is wrong. */
export interface QemuSpecIssue {
  code: QemuSpecIssueCode;
  field: string;
  message: string;
}

/** Thrown by `buildQemuArgv`/`resolveVmSpec` for an invalid spec; carries every problem found. */
export class QemuSpecError extends Error {
  readonly issues: readonly QemuSpecIssue[];

  constructor(vmName: string, issues: readonly QemuSpecIssue[]) {
    const head = `invalid VM spec${vmName ? ` "${vmName}"` : ""}: ${issues.length} problem${issues.length === 1 ? "" : "s"}`;
    super([head, ...issues.map((i) => `  ${i.field}: ${i.message}`)].join("\n"));
    this.name = "QemuSpecError";
    this.issues = issues;
  }

  /** true when some issue has this code */
  has(code: QemuSpecIssueCode): boolean {
    return this.issues.some((i) => i.code === code);
  }
}

/** Thrown by `decodeArgv` for a transport string that is not base64 of NUL-terminated args. */
export class ArgvEncodingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArgvEncodingError";
  }
}
