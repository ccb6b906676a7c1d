/** Reading a Pulumi stack file (Pulumi.<stack>.yaml) without the Pulumi engine. */
import { readFileSync } from "node:fs";
import { isMap, isPair, isScalar, isSeq, LineCounter, Node, parseDocument } from "yaml";
import { LabError, NAMESPACE } from "./errors";
import { nearest, editDistance } from "./suggest";

export interface LoadedStack {
  /** file name as given */
  source: string;
  /** this project's config keys, namespace stripped (parseLab's input) */
  config: Record<string, unknown>;
  /** problems reading the file itself (I/O, YAML syntax, namespaces) */
  errors: LabError[];
  /** true when the file's config: map was read (config holds its keys, errors may name bad namespaces) */
  readable: boolean;
  /** 1-based line of a config path such as "vhost-perf-lab:hosts[0].cpus" (nearest existing parent) */
  locate: (path: string) => number | undefined;
}

/** Split "vhost-perf-lab:hosts[0].cpus.vswitch" into ["vhost-perf-lab:hosts", 0, "cpus", "vswitch"]. */
export function splitPath(path: string): (string | number)[] {
  const m = /^([^:]+:)?(.*)$/.exec(path);
  const ns = m?.[1] ?? "";
  const rest = m?.[2] ?? "";
  const segs: (string | number)[] = [];
  const re = /([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/g;
  let r: RegExpExecArray | null;
  while ((r = re.exec(rest)) !== null) {
    if (r[1] !== undefined) segs.push(r[1]);
    else if (r[2] !== undefined) segs.push(Number(r[2]));
    else if (r[3] !== undefined) segs.push(JSON.parse(`"${r[3]}"`) as string);
  }
  if (segs.length > 0 && typeof segs[0] === "string") segs[0] = `${ns}${segs[0]}`;
  return segs;
}

const fileError = (source: string, expected: string, found: string, hint?: string): LabError => ({
  path: source,
  expected,
  found,
  ...(hint ? { hint } : {}),
});

/** Read a stack file: YAML -> `config:` map -> this project's keys with the namespace stripped. */
export function loadStackFile(path: string): LoadedStack {
  const none = () => undefined;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    return {
      source: path,
      config: {},
      errors: [fileError(path, "a readable stack file", code)],
      readable: false,
      locate: none,
    };
  }
  return parseStackText(text, path);
}

/** Like loadStackFile, from text (tests use it). */
export function parseStackText(text: string, source: string): LoadedStack {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  const errors: LabError[] = [];
  for (const e of doc.errors) {
    const pos = e.linePos?.[0];
    errors.push(
      fileError(
        pos ? `${source}:${pos.line}:${pos.col}` : source,
        "valid YAML",
        (e.message.split("\n")[0] ?? e.code).replace(/ at line \d+, column \d+:?$/, ""),
        e.code === "DUPLICATE_KEY" ? "remove one of the two entries" : undefined,
      ),
    );
  }
  const locate = (p: string): number | undefined => {
    let node: unknown = doc.contents;
    let line: number | undefined;
    for (const seg of ["config", ...splitPath(p)]) {
      if (isMap(node)) {
        const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && it.key.value === seg);
        if (!pair) break;
        const k = pair.key as Node;
        if (k.range) line = lc.linePos(k.range[0]).line;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === "number") {
        const item = node.items[seg] as Node | undefined;
        if (!item) break;
        if (item.range) line = lc.linePos(item.range[0]).line;
        node = item;
      } else break;
    }
    return line;
  };
  if (errors.length > 0) return { source, config: {}, errors, readable: false, locate };
  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    errors.push(fileError(source, "YAML without alias loops", e instanceof Error ? e.message : String(e)));
    return { source, config: {}, errors, readable: false, locate };
  }
  if (!isPlainMap(js)) {
    errors.push(fileError(source, "a stack file: a YAML map with a config: key", describeTop(js)));
    return { source, config: {}, errors, readable: false, locate };
  }
  const raw = js.config;
  if (raw === undefined || raw === null) {
    errors.push(fileError(`${source}: config`, "a config: map with vhost-perf-lab:* keys", "no config: key"));
    return { source, config: {}, errors, readable: false, locate };
  }
  if (!isPlainMap(raw)) {
    errors.push(fileError(`${source}: config`, "a map of namespace:key entries", describeTop(raw)));
    return { source, config: {}, errors, readable: false, locate };
  }
  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const colon = key.indexOf(":");
    if (colon < 0) {
      errors.push({
        path: key,
        expected: `a namespaced key: ${NAMESPACE}:${key}`,
        found: `"${key}" without a namespace`,
        hint: `write ${NAMESPACE}:${key}`,
      });
      continue;
    }
    const ns = key.slice(0, colon);
    if (ns === NAMESPACE) {
      config[key.slice(colon + 1)] = value;
    } else if (editDistance(ns, NAMESPACE) <= 3 || nearest(ns, [NAMESPACE]) !== undefined) {
      errors.push({
        path: key,
        expected: `the project namespace ${NAMESPACE}`,
        found: `"${ns}"`,
        hint: `did you mean "${NAMESPACE}:${key.slice(colon + 1)}"?`,
      });
    }
    // other namespaces (pulumi:, command:, aws:, ...) are not ours
  }
  return { source, config, errors, readable: true, locate };
}

function isPlainMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Map);
}

function describeTop(v: unknown): string {
  if (v === null || v === undefined) return "an empty document";
  if (Array.isArray(v)) return "a list";
  return typeof v;
}
