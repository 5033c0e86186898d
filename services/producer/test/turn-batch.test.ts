import { describe, expect, it } from 'vitest';
import { TurnBatch } from '../src/idempotency/turn-batch.js';

describe('TurnBatch', () => {
  it('runs the calls of one event-loop turn as one request, each caller getting its own result or error', async () => {
    const runs: number[][] = [];
    const batch = new TurnBatch<number, string>(async (items) => {
      runs.push([...items]);
      return items.map((n) => (n < 0 ? new Error(`negative ${n}`) : `n=${n}`));
    });
    const first = Promise.allSettled([batch.add(1), batch.add(-2), batch.add(3)]);
    expect(await first).toEqual([
      { status: 'fulfilled', value: 'n=1' },
      { status: 'rejected', reason: new Error('negative -2') },
      { status: 'fulfilled', value: 'n=3' },
    ]);
    expect(await batch.add(4)).toBe('n=4');
    expect(runs).toEqual([[1, -2, 3], [4]]);
  });

  it('a request that fails, or answers too few results, fails the calls it carried', async () => {
    const failing = new TurnBatch<number, string>(async () => {
      throw new Error('connection is closed');
    });
    await expect(Promise.all([failing.add(1), failing.add(2)])).rejects.toThrow('connection is closed');
    const short = new TurnBatch<number, string>(async () => ['only one']);
    const [a, b] = await Promise.allSettled([short.add(1), short.add(2)]);
    expect(a).toEqual({ status: 'fulfilled', value: 'only one' });
    expect(b).toMatchObject({ status: 'rejected', reason: { message: 'a batch of 2 answered 1 results' } });
  });
});
