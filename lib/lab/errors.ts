import { isSecureObject } from "./secret";

/** The Pulumi config namespace of this project (the `name:` in Pulumi.yaml). */
export const NAMESPACE = "vhost-perf-lab";

/** One problem in a lab config. `path` is the full config path, e.g. `vhost-perf-lab:hosts[0].cpus.vswitch`. */
export interface LabError {
  path: string;
  expected: string;
  found: string;
  hint?: string;
}

const MAX_SHOWN = 60;

/** A short, safe description of a config value for the "found" part of an error. */
export function describe(v: unknown): string {
  if (v === undefined) return "nothing (the key is missing)";
  if (v === null) return "an empty value";
  if (typeof v === "string") {
    if (/PRIVATE KEY|^v1:|^AAAA[A-Za-z0-9+/]{20}/.test(v)) return "a key or ciphertext (value hidden)";
    const shown = v.length > MAX_SHOWN ? `${v.slice(0, MAX_SHOWN)}...` : v;
    return v === "" ? "an empty string" : JSON.stringify(shown);
  }
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v))
    return v.length === 0 ? "an empty list" : `a list of ${v.length} item${v.length === 1 ? "" : "s"}`;
  if (isSecureObject(v)) return "a Pulumi secret";
  if (typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 0) return "an empty map";
    const shown = keys.slice(0, 6).join(", ");
    return `a map with key${keys.length === 1 ? "" : "s"} ${shown}${keys.length > 6 ? ", ..." : ""}`;
  }
  return typeof v;
}

export interface FormatOptions {
  /** file name shown in the header */
  source?: string;
  /** line number of a config path in the source file, when known */
  locate?: (path: string) => number | undefined;
}

/** All errors as one human-readable block: where, what was expected, what was found, how to fix. */
export function formatErrors(errors: readonly LabError[], opts: FormatOptions = {}): string {
  const n = errors.length;
  const head = `${opts.source ? `${opts.source}: ` : ""}${n} error${n === 1 ? "" : "s"} in the lab config`;
  const lines = [head];
  errors.forEach((e, i) => {
    const line = opts.locate?.(e.path);
    lines.push(`${String(i + 1).padStart(3)}. ${e.path}${line !== undefined ? ` (line ${line})` : ""}`);
    lines.push(`       expected: ${e.expected}`);
    lines.push(`       found:    ${e.found}`);
    if (e.hint) lines.push(`       fix:      ${e.hint}`);
  });
  return lines.join("\n");
}
