/**
 * Small readers for untyped config values. Each one records an error (config path, expected,
 * found, fix) and returns a fallback instead of throwing, so one pass reports every problem.
 */
import { parseCpuList } from "./cpuset";
import { describe, LabError, NAMESPACE } from "./errors";
import { isSecureObject, Secret } from "./secret";
import { nearest } from "./suggest";

export interface ParseOptions {
  /**
   * Refuse secrets written as plain text. Set when reading a stack file (a plain string there is
   * a leaked key or password); leave unset in the Pulumi program, where secrets arrive decrypted.
   */
  requireEncryptedSecrets?: boolean;
  /**
   * The Pulumi stack name (pulumi.getStack()): `{stack}` in vms.socketTemplate and the stack's run
   * dir. Default: <stack> of a source named Pulumi.<stack>.yaml, else DEFAULT_STACK ("dev").
   */
  stack?: string;
}

/** Append a key to a config path the way `pulumi config set --path` spells it. */
export function at(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return path === "" ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

export class Ctx {
  readonly errors: LabError[] = [];
  constructor(readonly opts: ParseOptions = {}) {}

  error(path: string, expected: string, found: string, hint?: string): void {
    const e: LabError = { path: path === "" ? NAMESPACE : `${NAMESPACE}:${path}`, expected, found };
    if (hint) e.hint = hint;
    this.errors.push(e);
  }

  /** True when an error was recorded exactly at this path (the whole value is unusable). */
  failedAt(path: string): boolean {
    return this.errors.some((e) => e.path === `${NAMESPACE}:${path}`);
  }

  /** True when an error was recorded at one of these paths or below them (skip dependent checks). */
  failed(...paths: string[]): boolean {
    return this.errors.some((e) =>
      paths.some((p) => {
        const full = `${NAMESPACE}:${p}`;
        return e.path === full || e.path.startsWith(`${full}.`) || e.path.startsWith(`${full}[`);
      }),
    );
  }
}

export const missing = (v: unknown): v is undefined | null => v === undefined || v === null;

export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function unknownKey(ctx: Ctx, path: string, key: string, keys: readonly string[], what: string): void {
  const near = nearest(key, keys);
  ctx.error(
    at(path, key),
    `one of the keys of ${what}: ${keys.join(", ")}`,
    `unknown key "${key}"`,
    near ? `did you mean "${near}"?` : `remove "${key}" (it is not part of ${what})`,
  );
}

/**
 * A map with a known key set. Unknown keys are reported (with the nearest valid key).
 * Returns undefined when the value is absent or not a map.
 */
export function readMap(
  ctx: Ctx,
  path: string,
  v: unknown,
  keys: readonly string[],
  what: string,
  required = false,
): Record<string, unknown> | undefined {
  if (missing(v)) {
    if (required) ctx.error(path, `${what}: a map with keys ${keys.join(", ")}`, describe(v));
    return undefined;
  }
  if (!isMap(v) || isSecureObject(v)) {
    ctx.error(path, `${what}: a map with keys ${keys.join(", ")}`, describe(v));
    return undefined;
  }
  for (const k of Object.keys(v)) if (!keys.includes(k)) unknownKey(ctx, path, k, keys, what);
  return v;
}

const quotedNumber = (v: unknown): boolean => typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v.trim());

interface StrOpts {
  expected: string;
  pattern?: RegExp;
  /** extra check; returns the reason it fails */
  check?: (s: string) => string | undefined;
  hint?: string;
}

function strValue(ctx: Ctx, path: string, v: unknown, o: StrOpts): string | undefined {
  if (typeof v !== "string") {
    const hint =
      typeof v === "number" ? `quote it: "${v}" (YAML reads an unquoted 7.10 as the number 7.1)` : o.hint;
    ctx.error(path, o.expected, describe(v), hint);
    return undefined;
  }
  if (o.pattern && !o.pattern.test(v)) {
    ctx.error(path, o.expected, describe(v), o.hint);
    return undefined;
  }
  const why = o.check?.(v);
  if (why !== undefined) {
    ctx.error(path, o.expected, `${describe(v)} (${why})`, o.hint);
    return undefined;
  }
  return v;
}

/** A string; `def` applies when absent, otherwise absence is an error. Fallback on error: def or "". */
export function str(ctx: Ctx, path: string, v: unknown, o: StrOpts & { def?: string }): string {
  if (missing(v)) {
    if (o.def !== undefined) return o.def;
    ctx.error(path, o.expected, describe(v), o.hint);
    return "";
  }
  return strValue(ctx, path, v, o) ?? o.def ?? "";
}

/** An optional string: undefined when absent. */
export function optStr(ctx: Ctx, path: string, v: unknown, o: StrOpts): string | undefined {
  if (missing(v)) return undefined;
  return strValue(ctx, path, v, o);
}

interface NumOpts {
  expected?: string;
  min?: number;
  max?: number;
  /** the bound itself is not allowed */
  minExclusive?: boolean;
  maxExclusive?: boolean;
  hint?: string;
}

function numExpected(kind: string, o: NumOpts): string {
  if (o.expected) return o.expected;
  const lo = o.min === undefined ? "" : `${o.minExclusive ? ">" : ">="} ${o.min}`;
  const hi = o.max === undefined ? "" : `${o.maxExclusive ? "<" : "<="} ${o.max}`;
  return `${kind}${lo || hi ? ` ${[lo, hi].filter(Boolean).join(" and ")}` : ""}`;
}

function numValue(ctx: Ctx, path: string, v: unknown, kind: "an integer" | "a number", o: NumOpts) {
  const expected = numExpected(kind, o);
  if (typeof v !== "number" || !Number.isFinite(v) || (kind === "an integer" && !Number.isInteger(v))) {
    ctx.error(path, expected, describe(v), quotedNumber(v) ? "remove the quotes around the number" : o.hint);
    return undefined;
  }
  const low = o.min !== undefined && (o.minExclusive ? v <= o.min : v < o.min);
  const high = o.max !== undefined && (o.maxExclusive ? v >= o.max : v > o.max);
  if (low || high) {
    ctx.error(path, expected, describe(v), o.hint);
    return undefined;
  }
  return v;
}

export function int(ctx: Ctx, path: string, v: unknown, o: NumOpts & { def?: number }): number {
  if (missing(v)) {
    if (o.def !== undefined) return o.def;
    ctx.error(path, numExpected("an integer", o), describe(v), o.hint);
    return o.min ?? 0;
  }
  return numValue(ctx, path, v, "an integer", o) ?? o.def ?? o.min ?? 0;
}

export function num(ctx: Ctx, path: string, v: unknown, o: NumOpts & { def?: number }): number {
  if (missing(v)) {
    if (o.def !== undefined) return o.def;
    ctx.error(path, numExpected("a number", o), describe(v), o.hint);
    return o.min ?? 0;
  }
  return numValue(ctx, path, v, "a number", o) ?? o.def ?? o.min ?? 0;
}

export function optNum(ctx: Ctx, path: string, v: unknown, o: NumOpts): number | undefined {
  if (missing(v)) return undefined;
  return numValue(ctx, path, v, "a number", o);
}

export function bool(ctx: Ctx, path: string, v: unknown, def: boolean): boolean {
  if (missing(v)) return def;
  if (typeof v !== "boolean") {
    const hint = v === "true" || v === "false" ? "remove the quotes: true or false" : undefined;
    ctx.error(path, "true or false", describe(v), hint);
    return def;
  }
  return v;
}

/** One of a fixed set of values; a near miss is named in the fix. */
export function choice<T extends string | number>(
  ctx: Ctx,
  path: string,
  v: unknown,
  values: readonly T[],
  def?: T,
  what?: string,
): T {
  const expected = `${what ? `${what}: ` : ""}one of ${values.map((x) => JSON.stringify(x)).join(", ")}`;
  if (missing(v)) {
    if (def !== undefined) return def;
    ctx.error(path, expected, describe(v));
    return values[0] as T;
  }
  if ((values as readonly unknown[]).includes(v)) return v as T;
  const near = typeof v === "string" ? nearest(v, values.map(String)) : undefined;
  ctx.error(path, expected, describe(v), near !== undefined ? `did you mean "${near}"?` : undefined);
  return def ?? (values[0] as T);
}

/** A list; each item read by `item`. Duplicates (by JSON) are refused when `unique` is set. */
export function list<T>(
  ctx: Ctx,
  path: string,
  v: unknown,
  item: (path: string, value: unknown) => T,
  o: { expected: string; def?: T[]; minItems?: number; unique?: boolean; hint?: string },
): T[] {
  if (missing(v)) {
    if (o.def !== undefined) return o.def;
    ctx.error(path, o.expected, describe(v), o.hint);
    return [];
  }
  if (!Array.isArray(v)) {
    ctx.error(path, o.expected, describe(v), o.hint ?? "write a YAML list: [a, b] or one '- item' per line");
    return o.def ?? [];
  }
  if (o.minItems !== undefined && v.length < o.minItems) {
    ctx.error(
      path,
      `${o.expected} with at least ${o.minItems} item${o.minItems === 1 ? "" : "s"}`,
      describe(v),
      o.hint,
    );
  }
  const out = v.map((x, i) => item(at(path, i), x));
  if (o.unique) {
    const seen = new Map<string, number>();
    v.forEach((x, i) => {
      const k = JSON.stringify(x);
      const first = seen.get(k);
      if (first !== undefined) {
        ctx.error(
          at(path, i),
          `${o.expected} without repeats`,
          `${describe(x)} again (already at [${first}])`,
          "remove the repeated item",
        );
      } else seen.set(k, i);
    });
  }
  return out;
}

/** A secret: `{secure: "<ciphertext>"}` from a stack file, or a plain string (decrypted by Pulumi). */
export function secret(
  ctx: Ctx,
  path: string,
  v: unknown,
  what: string,
  def?: Secret,
  fromFile = false,
): Secret {
  const setCmd = `pulumi config set --secret --path '${path}' ${fromFile ? "< <file>" : "<value>"}`;
  if (missing(v)) {
    if (def) return def;
    ctx.error(path, `${what}, stored as a Pulumi secret`, describe(v), `run: ${setCmd}`);
    return Secret.plain("");
  }
  if (isSecureObject(v)) return Secret.encrypted(v.secure);
  if (typeof v === "string") {
    if (ctx.opts.requireEncryptedSecrets) {
      ctx.error(
        path,
        `${what}, stored as a Pulumi secret ({secure: ...})`,
        "plain text (value hidden)",
        `remove it from the file and run: ${setCmd}`,
      );
    }
    return Secret.plain(v);
  }
  ctx.error(
    path,
    `${what}, stored as a Pulumi secret`,
    typeof v === "object" ? describe(v) : "a non-text value (hidden)",
    `run: ${setCmd}`,
  );
  return Secret.plain("");
}

const CPU_EXPECTED = 'a CPU list like "2-3,6" (or one CPU number)';

/** A CPU set: "2-3,6", a single integer, or a list of integers. */
export function cpuSet(ctx: Ctx, path: string, v: unknown, def?: number[]): number[] {
  if (missing(v)) {
    if (def !== undefined) return def;
    ctx.error(path, CPU_EXPECTED, describe(v));
    return [];
  }
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0)) {
    const r = parseCpuList((v as number[]).join(","));
    if (r.ok) return r.cpus;
    ctx.error(path, CPU_EXPECTED, describe(v), r.reason);
    return [];
  }
  if (typeof v !== "string") {
    ctx.error(path, CPU_EXPECTED, describe(v));
    return [];
  }
  const r = parseCpuList(v);
  if (!r.ok) {
    ctx.error(path, CPU_EXPECTED, `${describe(v)}: ${r.reason}`);
    return [];
  }
  return r.cpus;
}
