/** "Did you mean ...?" for misspelt keys and values. */

/** Optimal-string-alignment distance: insertions, deletions, substitutions, adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++)
    d.push(Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : 0)));
  for (let i = 1; i <= a.length; i++) {
    const row = d[i] as number[];
    const prev = d[i - 1] as number[];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, ((d[i - 2] as number[])[j - 2] as number) + 1);
      }
      row[j] = v;
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

const fold = (s: string): string => s.toLowerCase().replace(/[-_ ]/g, "");

/**
 * The candidate closest to `word`, or undefined when nothing is plausibly meant.
 * Case, dashes and underscores are ignored ("vswitch_main" finds "vswitchMain").
 */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  const w = fold(word);
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const dist = editDistance(w, fold(c));
    if (dist < bestDist) {
      best = c;
      bestDist = dist;
    }
  }
  if (best === undefined) return undefined;
  if (w.length >= 3) {
    const prefixed = candidates.filter((c) => fold(c).startsWith(w)).sort((a, b) => a.length - b.length)[0];
    if (prefixed !== undefined && bestDist > 1) return prefixed;
  }
  const limit = Math.max(1, Math.min(3, Math.floor(Math.max(w.length, fold(best).length) / 3)));
  // a prefix of a candidate ("ovs" for "ovs-dpdk") was taken above
  if (bestDist <= limit) return best;
  return undefined;
}
