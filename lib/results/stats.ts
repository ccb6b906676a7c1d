/**
 * Uncertainty for the report: Student's t quantiles, Welch's interval for a difference of means,
 * coefficients of variation. Pure.
 */
import { mean, sampleStdev } from "../measure/stats";

/** Two-sided 95 % quantile of Student's t (df >= 1): exact table to 30, then a series. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];
export function t975(df: number): number {
  if (!(df > 0)) return NaN;
  if (df <= 30) {
    // fractional df (Welch): interpolate between the neighbouring table entries
    const lo = Math.max(1, Math.floor(df));
    const hi = Math.min(30, Math.ceil(df));
    const a = T975[lo - 1] as number;
    const b = T975[hi - 1] as number;
    return lo === hi ? a : a + (b - a) * (df - lo);
  }
  // Cornish-Fisher expansion around the normal quantile
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df * df);
}

export interface Difference {
  /** mean(b) - mean(a) */
  diff: number;
  /** relative to mean(a) */
  relative: number | null;
  /** 95 % interval of diff; null when either side has fewer than 2 values */
  low: number | null;
  high: number | null;
  df: number | null;
  /** the interval excludes 0 */
  significant: boolean;
  method: string;
}

/** Welch's t-interval (95 %) for mean(b) - mean(a): unequal variances, Welch-Satterthwaite df. */
export function welchDifference(a: readonly number[], b: readonly number[]): Difference {
  const ma = mean(a);
  const mb = mean(b);
  const diff = mb - ma;
  const relative = ma !== 0 && Number.isFinite(ma) ? diff / ma : null;
  const method = "difference of means, Welch's t-interval at 95 %";
  if (a.length < 2 || b.length < 2) {
    return { diff, relative, low: null, high: null, df: null, significant: false, method };
  }
  const va = sampleStdev(a) ** 2 / a.length;
  const vb = sampleStdev(b) ** 2 / b.length;
  const se = Math.sqrt(va + vb);
  if (se === 0) {
    return { diff, relative, low: diff, high: diff, df: Infinity, significant: diff !== 0, method };
  }
  const df = (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  const half = t975(df) * se;
  const low = diff - half;
  const high = diff + half;
  return { diff, relative, low, high, df, significant: low > 0 || high < 0, method };
}

/** Coefficient of variation (sample stdev / mean); null when undefined. */
export function cv(values: readonly number[]): number | null {
  if (values.length < 2) return null;
  const m = mean(values);
  if (!(m > 0)) return null;
  return sampleStdev(values) / m;
}

/** max - min relative to the mean; null for fewer than 2 values. */
export function relativeSpread(values: readonly number[]): number | null {
  if (values.length < 2) return null;
  const m = mean(values);
  if (!(m > 0)) return null;
  return (Math.max(...values) - Math.min(...values)) / m;
}
