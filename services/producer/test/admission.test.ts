import { describe, expect, it } from 'vitest';
import { Budget } from '../src/admission.js';

describe('Budget', () => {
  it('refuses with a retriable 503 what does not fit next to what is held, and takes it once that is given back', () => {
    const budget = new Budget(100, 'bytes of batch bodies');
    const first = budget.take(60);
    expect(() => budget.take(50)).toThrow(expect.objectContaining({ code: 'SHARDSYNC_UNAVAILABLE', status: 503, retriable: true }) as Error);
    expect(() => budget.take(50)).toThrow(/holds 60 of its 100 bytes of batch bodies in flight/);
    first();
    first(); // giving back twice gives back once
    expect(budget.used).toBe(0);
    const second = budget.take(50);
    expect(budget.used).toBe(50);
    second();
  });

  it('admits one request larger than the whole budget when nothing else is held, so a large limit elsewhere is never unreachable', () => {
    const budget = new Budget(10, 'uploads');
    const big = budget.take(25);
    expect(() => budget.take(1)).toThrow(/retry shortly/);
    big();
    expect(budget.used).toBe(0);
  });
});
