/**
 * Moving an argv to a remote script without a shell in between: each argument is followed by a
 * NUL byte, the bytes are base64-encoded (one line, safe in an environment variable). The script
 * side decodes with `mapfile -d '' -t argv < <(printf %s "$VM_ARGV_B64" | base64 -d)` — no eval,
 * no word splitting, any byte but NUL survives.
 */
import { ArgvEncodingError } from "./errors";

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** base64 of the NUL-terminated arguments (UTF-8). Throws for an argument containing NUL. */
export function encodeArgv(argv: readonly string[]): string {
  argv.forEach((a, i) => {
    if (a.includes("\0"))
      throw new ArgvEncodingError(`argv[${i}] contains a NUL byte and cannot be transported`);
    if (LONE_SURROGATE.test(a))
      throw new ArgvEncodingError(`argv[${i}] is not valid Unicode (lone surrogate)`);
  });
  return Buffer.from(argv.map((a) => `${a}\0`).join(""), "utf8").toString("base64");
}

/** The inverse of encodeArgv. Throws ArgvEncodingError for anything encodeArgv cannot produce. */
export function decodeArgv(b64: string): string[] {
  const text = b64.replace(/\s+/g, "");
  if (text.length % 4 !== 0 || !BASE64_RE.test(text)) throw new ArgvEncodingError("not a base64 string");
  const bytes = Buffer.from(text, "base64");
  if (bytes.length === 0) return [];
  if (bytes[bytes.length - 1] !== 0) throw new ArgvEncodingError("the last argument is not NUL-terminated");
  let s: string;
  try {
    s = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, bytes.length - 1));
  } catch {
    throw new ArgvEncodingError("the arguments are not valid UTF-8");
  }
  return s.split("\0");
}
