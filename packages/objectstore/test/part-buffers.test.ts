import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { PartBufferPool } from '../src/part-buffers.js';
import { PartReader } from '../src/part-reader.js';

const MiB = 1024 * 1024;

describe('PartBufferPool', () => {
  test('a released block is handed out again for the next part of the same capacity', () => {
    const pool = new PartBufferPool(4 * MiB);
    const first = pool.acquire(1000, MiB);
    expect(first.byteLength).toBe(1000);
    pool.release(first);
    expect(pool.freeBytes).toBe(MiB);
    const second = pool.acquire(2000, MiB);
    expect(second.buffer).toBe(first.buffer);
    expect(second.byteLength).toBe(2000);
    expect(pool.freeBytes).toBe(0);
  });

  test('blocks of another capacity are not reused, and nothing beyond the limit is kept', () => {
    const pool = new PartBufferPool(MiB);
    const a = pool.acquire(10, MiB);
    const b = pool.acquire(10, MiB);
    pool.release(a);
    pool.release(b);
    expect(pool.freeBytes).toBe(MiB);
    const small = pool.acquire(10, 1024);
    expect(small.buffer).not.toBe(a.buffer);
    expect(small.buffer).not.toBe(b.buffer);
  });

  test('a buffer it did not hand out, or one released before, is ignored, even after its block was handed out again', () => {
    const pool = new PartBufferPool(4 * MiB);
    pool.release(Buffer.alloc(MiB));
    expect(pool.freeBytes).toBe(0);
    const first = pool.acquire(10, MiB);
    pool.release(first);
    const second = pool.acquire(10, MiB);
    expect(second.buffer).toBe(first.buffer);
    // A stale release of the first view must not free the block the second holder still uses.
    pool.release(first);
    expect(pool.freeBytes).toBe(0);
    expect(pool.acquire(10, MiB).buffer).not.toBe(second.buffer);
  });

  test('refuses a part larger than its block', () => {
    const pool = new PartBufferPool(MiB);
    expect(() => pool.acquire(2048, 1024)).toThrow(RangeError);
  });
});

describe('PartReader with a pool', () => {
  test('parts assembled from several chunks hold the same bytes as without a pool and reuse released memory', async () => {
    const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7) % 251));
    const chunked = (): Readable => Readable.from((function* () {
      for (let i = 0; i < data.length; i += 300) yield data.subarray(i, i + 300);
    })());
    const pool = new PartBufferPool(MiB);
    const reader = new PartReader(chunked(), 2048, { maxBytes: MiB }, pool);
    const seen: Buffer[] = [];
    const memory = new Set<ArrayBufferLike>();
    for (let part = await reader.next(); part !== undefined; part = await reader.next()) {
      seen.push(Buffer.from(part));
      memory.add(part.buffer);
      pool.release(part);
    }
    expect(Buffer.concat(seen)).toEqual(data);
    expect(seen.map((p) => p.byteLength)).toEqual([2048, 2048, 904]);
    // Every part was released before the next was assembled: one block served them all.
    expect(memory.size).toBe(1);
  });
});
