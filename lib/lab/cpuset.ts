/** CPU lists in the kernel's notation ("0", "2-3,6"), as isolcpus and taskset use them. */

export const MAX_CPU_ID = 8191;

export type CpuListResult = { ok: true; cpus: number[] } | { ok: false; reason: string };

/** Parse "2-3,6" into [2, 3, 6] (sorted). Spaces around items are allowed; "" is the empty set. */
export function parseCpuList(text: string): CpuListResult {
  const trimmed = text.trim();
  if (trimmed === "") return { ok: true, cpus: [] };
  const seen = new Set<number>();
  for (const raw of trimmed.split(",")) {
    const item = raw.trim();
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(item);
    if (!m) {
      return {
        ok: false,
        reason: item === "" ? "an empty item (two commas in a row?)" : `"${item}" is not a CPU or a range`,
      };
    }
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo > MAX_CPU_ID || hi > MAX_CPU_ID) return { ok: false, reason: `CPU ids stop at ${MAX_CPU_ID}` };
    if (hi < lo) return { ok: false, reason: `the range "${item}" runs backwards (write ${hi}-${lo})` };
    for (let c = lo; c <= hi; c++) {
      if (seen.has(c)) return { ok: false, reason: `CPU ${c} is listed twice` };
      seen.add(c);
    }
  }
  return { ok: true, cpus: [...seen].sort((a, b) => a - b) };
}

/** Canonical text of a CPU set: sorted, consecutive runs folded ("2-3,6"); "" for the empty set. */
export function formatCpuList(cpus: readonly number[]): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const start = sorted[i] as number;
    let end = start;
    while (i + 1 < sorted.length && sorted[i + 1] === end + 1) {
      i++;
      end = sorted[i] as number;
    }
    parts.push(start === end ? `${start}` : `${start}-${end}`);
    i++;
  }
  return parts.join(",");
}

export function intersect(a: readonly number[], b: readonly number[]): number[] {
  const sb = new Set(b);
  return a.filter((c) => sb.has(c));
}

export function union(...sets: (readonly number[])[]): number[] {
  return [...new Set(sets.flat())].sort((x, y) => x - y);
}

export function difference(a: readonly number[], b: readonly number[]): number[] {
  const sb = new Set(b);
  return a.filter((c) => !sb.has(c));
}
