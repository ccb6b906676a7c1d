/** Small descriptive statistics used for MRR and for the benchmark tables. */

export function mean(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

/** Sample standard deviation (n - 1 in the denominator); 0 for a single value, NaN for none. */
export function sampleStdev(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  if (values.length === 1) return 0;
  const average = mean(values);
  let squares = 0;
  for (const value of values) squares += (value - average) ** 2;
  return Math.sqrt(squares / (values.length - 1));
}

/** Standard deviation relative to the mean; NaN when the mean is 0. */
export function coefficientOfVariation(values: readonly number[]): number {
  const average = mean(values);
  return average === 0 ? NaN : sampleStdev(values) / average;
}

export function minOf(values: readonly number[]): number {
  return values.length === 0 ? NaN : Math.min(...values);
}

export function maxOf(values: readonly number[]): number {
  return values.length === 0 ? NaN : Math.max(...values);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upperMiddle = sorted[middle] as number;
  return sorted.length % 2 === 1 ? upperMiddle : ((sorted[middle - 1] as number) + upperMiddle) / 2;
}
