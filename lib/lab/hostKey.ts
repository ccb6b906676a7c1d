/**
 * The one accepted form of a pinned SSH host key, for every part of the project that pins one
 * (lab:check, the Pulumi program's connections, the benchmark runner): the public key line
 *
 *   <type> <base64> [comment]        (authorized_keys / .pub form; `ssh-keyscan ... | cut -d' ' -f2-`)
 *
 * with <type> one of HOST_KEY_TYPES and <base64> the key in SSH wire format, whose first field
 * is the same type string. Fingerprints ("SHA256:..."), known_hosts lines (host names first) and
 * an empty value are refused, each with the command that prints the accepted form.
 * Pure: no I/O, no imports beyond Buffer.
 */

export const HOST_KEY_TYPES = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa",
] as const;
export type HostKeyType = (typeof HOST_KEY_TYPES)[number];

/** A host key in the accepted form. */
export interface HostKey {
  type: HostKeyType;
  /** the key itself: SSH wire format, base64 (what an SSH client compares with the server's key) */
  blob: string;
  /** `${type} ${blob}`: the normalized pin (comment dropped) */
  line: string;
  /** the comment after the key, if any ("root@dut1") */
  comment: string | undefined;
}

export type HostKeyResult =
  | ({ ok: true } & HostKey)
  /** error: what is wrong with the text (never echoes key material); fix: how to get the accepted form */
  | { ok: false; error: string; fix: string };

/** Where the key is from, for the fix text ("ssh-keyscan -t ed25519 -p 22 192.0.2.11 | ..."). */
export interface HostKeyOrigin {
  host?: string;
  port?: number;
}

/** The command that prints the accepted form of a host's ed25519 key. */
export function hostKeyScanCommand(origin: HostKeyOrigin = {}): string {
  return `ssh-keyscan -t ed25519 -p ${origin.port ?? 22} ${origin.host || "<host>"} | cut -d' ' -f2-`;
}

const isType = (s: string | undefined): s is HostKeyType =>
  s !== undefined && (HOST_KEY_TYPES as readonly string[]).includes(s);

/** ECDSA curve name and uncompressed point size (0x04 || X || Y) per key type. */
const ECDSA: Partial<Record<HostKeyType, { curve: string; point: number }>> = {
  "ecdsa-sha2-nistp256": { curve: "nistp256", point: 65 },
  "ecdsa-sha2-nistp384": { curve: "nistp384", point: 97 },
  "ecdsa-sha2-nistp521": { curve: "nistp521", point: 133 },
};

/** The wire-format fields of a key blob (uint32 length + bytes, repeated), or undefined when malformed. */
function wireFields(raw: Buffer): Buffer[] | undefined {
  const fields: Buffer[] = [];
  for (let off = 0; off < raw.length;) {
    if (off + 4 > raw.length) return undefined;
    const len = raw.readUInt32BE(off);
    if (off + 4 + len > raw.length) return undefined;
    fields.push(raw.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return fields;
}

/** Why the decoded key does not fit its type, or undefined when it does. */
function structureProblem(type: HostKeyType, fields: Buffer[]): string | undefined {
  if (fields[0]?.toString("latin1") !== type) return "the key data does not match its type";
  if (type === "ssh-ed25519") {
    return fields.length === 2 && fields[1]?.length === 32 ? undefined : "not a 32-byte ed25519 key";
  }
  const ec = ECDSA[type];
  if (ec) {
    const [, curve, point] = fields;
    if (fields.length !== 3 || curve?.toString("latin1") !== ec.curve) return `not a ${ec.curve} key`;
    return point?.length === ec.point && point[0] === 4 ? undefined : `not a ${ec.curve} point`;
  }
  // ssh-rsa: exponent e, modulus n
  return fields.length === 3 && (fields[1]?.length ?? 0) > 0 && (fields[2]?.length ?? 0) >= 64
    ? undefined
    : "not an RSA public key (exponent and modulus)";
}

const FINGERPRINT_RE = /^(SHA256|SHA1|MD5):|^([0-9a-f]{2}:){15}[0-9a-f]{2}$/i;

/**
 * Parse a pinned host key. Accepts exactly one public key line (surrounding whitespace and one
 * trailing newline are fine); everything else is an error with a fix.
 */
export function parseHostKey(text: string, origin: HostKeyOrigin = {}): HostKeyResult {
  const scan = hostKeyScanCommand(origin);
  const form = `the public key line "<type> <base64> [comment]"`;
  const fail = (error: string, fix = `pin ${form}, from a trusted path: ${scan}`): HostKeyResult => ({
    ok: false,
    error,
    fix,
  });
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length === 0) return fail("no host key (the value is empty)");
  if (/PRIVATE KEY/.test(text)) {
    return fail("a private key; the pin is the server's PUBLIC host key", `remove it, then pin ${scan}`);
  }
  if (lines.length > 1) {
    return fail(`${lines.length} lines; one key line is pinned per host (-t ed25519 picks one)`);
  }
  const line = (lines[0] as string).trim();
  // control characters other than tab (a pasted escape sequence or NUL); finding them is the point
  // eslint-disable-next-line no-control-regex
  const ctl = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.exec(line);
  if (ctl)
    return fail(
      `a control character (U+${ctl[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")})`,
    );
  const tokens = line.split(/[ \t]+/);
  const [first, second] = tokens;
  if (first !== undefined && FINGERPRINT_RE.test(first)) {
    return fail("a key fingerprint, not the key (an SSH client compares the key itself)");
  }
  if (first === "---" || first === "----") {
    return fail("an RFC 4716 (SSH2) public key block", `convert it: ssh-keygen -i -f <file>, or pin ${scan}`);
  }
  if (!isType(first)) {
    if (first?.startsWith("@") || first?.startsWith("|1|") || isType(second)) {
      return fail("a known_hosts line (host names or a marker before the key type)");
    }
    const shown =
      first !== undefined && /^[A-Za-z0-9@._-]{1,64}$/.test(first) ? `"${first}"` : "the first word";
    return fail(`key type ${shown} is not one of ${HOST_KEY_TYPES.join(", ")}`);
  }
  const type = first;
  const blob = second;
  if (blob === undefined) return fail(`the base64 key data is missing after ${type}`);
  const damaged = "the key data is damaged or does not match its type (truncated when copied?)";
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(blob) || blob.length % 4 !== 0) {
    return fail(`${damaged}: not base64`);
  }
  const raw = Buffer.from(blob, "base64");
  if (raw.toString("base64") !== blob) return fail(`${damaged}: not canonical base64`);
  const fields = wireFields(raw);
  if (!fields) return fail(`${damaged}: a field runs past the end`);
  const why = structureProblem(type, fields);
  if (why !== undefined) return fail(`${damaged}: ${why}`);
  const comment = tokens.length > 2 ? line.slice(line.indexOf(blob) + blob.length).trim() : undefined;
  return { ok: true, type, blob, line: `${type} ${blob}`, comment };
}
