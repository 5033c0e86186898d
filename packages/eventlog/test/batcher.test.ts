import { describe, expect, it } from 'vitest';
import { Batcher } from '../src/batcher.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('Batcher', () => {
  it('items submitted in one event-loop turn go together, and items submitted while a flush is in flight go in the next flush, in order', async () => {
    const flushes: number[][] = [];
    const gate = deferred();
    const batcher = new Batcher<number, string>(async (items) => {
      flushes.push(items);
      if (flushes.length === 1) await gate.promise;
      return items.map((i) => `r${i}`);
    }, () => 1);
    const sameTurn = [1, 2].map((i) => batcher.submit(i));
    // Items that arrive on a later turn, while the first flush waits for its broker.
    await new Promise((r) => setImmediate(r));
    expect(flushes).toEqual([[1, 2]]);
    const rest = [3, 4, 5].map((i) => batcher.submit(i));
    gate.resolve();
    expect(await Promise.all(sameTurn)).toEqual(['r1', 'r2']);
    expect(await Promise.all(rest)).toEqual(['r3', 'r4', 'r5']);
    expect(flushes).toEqual([[1, 2], [3, 4, 5]]);
  });

  it('a batch never exceeds maxItems or maxBytes, but an oversized item still goes alone', async () => {
    const flushes: number[][] = [];
    const gate = deferred();
    const batcher = new Batcher<number, number>(async (items) => {
      flushes.push(items);
      if (flushes.length === 1) await gate.promise;
      return items;
    }, (i) => i, { maxItems: 3, maxBytes: 10 });
    const all = [1, 4, 4, 4, 1, 1, 1, 50, 1].map((i) => batcher.submit(i));
    gate.resolve();
    await Promise.all(all);
    expect(flushes).toEqual([[1, 4, 4], [4, 1, 1], [1], [50], [1]]);
  });

  it('a failed flush rejects every item of that batch and later batches still flush', async () => {
    let calls = 0;
    const batcher = new Batcher<number, number>(async (items) => {
      calls += 1;
      if (calls === 1) throw new Error('broker down');
      return items;
    }, () => 1);
    await expect(batcher.submit(1)).rejects.toThrow('broker down');
    await expect(batcher.submit(2)).resolves.toBe(2);
  });

  it('close waits for queued items and then refuses new ones with a retriable error', async () => {
    const flushed: number[] = [];
    const batcher = new Batcher<number, number>(async (items) => {
      await new Promise((r) => setTimeout(r, 5));
      flushed.push(...items);
      return items;
    }, () => 1, { lingerMs: 50 });
    const pending = [batcher.submit(1), batcher.submit(2)];
    await batcher.close();
    expect(flushed).toEqual([1, 2]);
    await expect(Promise.all(pending)).resolves.toEqual([1, 2]);
    await expect(batcher.submit(3)).rejects.toMatchObject({ code: 'SHARDSYNC_EVENTLOG_CLOSED', retriable: true });
  });
});
