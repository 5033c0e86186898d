/** Small statistics for repetitions and latency samples. */

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

/** Median, min and max of the finite values (a repetition that measured nothing counts as missing). */
export function spread(values: readonly number[]): Spread {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { median, min: s[0] as number, max: s[s.length - 1] as number, n: s.length };
}

/** The p-th percentile (0..100) by nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank] as number;
}

/**
 * Ratios of paired repetitions (shardsync rep i against baseline rep i, both in this run), as a
 * spread: the median ratio, and the worst and best pair.
 */
export function pairedRatios(subject: readonly number[], baseline: readonly number[]): Spread {
  const n = Math.min(subject.length, baseline.length);
  return spread(Array.from({ length: n }, (_, i) => (subject[i] as number) / (baseline[i] as number)));
}
