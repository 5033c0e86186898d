import { describe, expect, it } from 'vitest';
import { verdictOf } from './results.js';
import { pairedRatios, percentile, spread } from './stats.js';

describe('bench statistics', () => {
  it('reports the median with min and max, also for an even count', () => {
    expect(spread([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3, n: 3 });
    expect(spread([4, 1, 2, 3]).median).toBe(2.5);
  });

  it('pairs each repetition with the baseline measured next to it', () => {
    expect(pairedRatios([10, 20, 30], [20, 20, 20])).toEqual({ median: 1, min: 0.5, max: 1.5, n: 3 });
  });

  it('takes percentiles by nearest rank', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 99)).toBe(99);
  });

  it('judges a target on the median ratio, or on the absolute figure', () => {
    const s = spread([1]);
    expect(verdictOf({ name: 'x', unit: '', shardsync: s, ratio: spread([0.75]), target: { op: '>=', value: 0.8, on: 'ratio' } })).toBe('MISS');
    expect(verdictOf({ name: 'x', unit: 'MiB', shardsync: spread([200]), target: { op: '<=', value: 256, on: 'absolute' } })).toBe('met');
    expect(verdictOf({ name: 'x', unit: '', shardsync: s })).toBe('n/a');
  });
});
