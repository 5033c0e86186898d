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
    const data = Buffer.from(Array.from({ length: 5 * MiB + 904 }, (_, i) => (i * 7) % 251));
    const chunked = (): Readable => Readable.from((function* () {
      for (let i = 0; i < data.length; i += 60_000) yield data.subarray(i, i + 60_000);
    })());
    const pool = new PartBufferPool(16 * MiB);
    const reader = new PartReader(chunked(), 2 * MiB, { maxBytes: 16 * MiB }, pool);
    const seen: Buffer[] = [];
    const memory = new Set<ArrayBufferLike>();
    for (let part = await reader.next(); part !== undefined; part = await reader.next()) {
      seen.push(Buffer.from(part));
      memory.add(part.buffer);
      pool.release(part);
    }
    expect(Buffer.concat(seen).equals(data)).toBe(true);
    expect(seen.map((p) => p.byteLength)).toEqual([2 * MiB, 2 * MiB, MiB + 904]);
    // Every part was released before the next was assembled: one block served them all.
    expect(memory.size).toBe(1);
  });

  test('a large streamed part takes its chunks as they arrive: the stream may reuse a chunk it handed over earlier', async () => {
    // Like a socket whose chunks nobody else holds: once the reader has them, the stream
    // scribbles over older ones. Only a reader that copied them on arrival still has the bytes.
    const chunk = 64 * 1024;
    const data = Buffer.from(Array.from({ length: 3 * MiB + 12_345 }, (_, i) => (i * 13) % 253));
    const handed: Buffer[] = [];
    const source = Readable.from((function* () {
      for (let i = 0; i < data.length; i += chunk) {
        // Older than the reader's small-body window (256 KiB) plus the chunk in hand.
        handed.at(-6)?.fill(0);
        const piece = Buffer.from(data.subarray(i, i + chunk));
        handed.push(piece);
        yield piece;
      }
    })(), { objectMode: false, highWaterMark: 1 });
    const pool = new PartBufferPool(16 * MiB);
    const reader = new PartReader(source, 2 * MiB, { maxBytes: 16 * MiB }, pool);
    const seen: Buffer[] = [];
    for (let part = await reader.next(); part !== undefined; part = await reader.next()) {
      seen.push(Buffer.from(part));
      pool.release(part);
    }
    expect(seen.map((p) => p.byteLength)).toEqual([2 * MiB, MiB + 12_345]);
    expect(Buffer.concat(seen).equals(data)).toBe(true);
    // The last, shorter part came from the same pooled block, given back whole.
    expect(pool.freeBytes).toBe(2 * MiB);
  });

  test('a small streamed body takes no pooled block', async () => {
    const pool = new PartBufferPool(16 * MiB);
    const body = Buffer.alloc(1024, 7);
    const reader = new PartReader(Readable.from([body.subarray(0, 512), body.subarray(512)]), 8 * MiB, { maxBytes: 16 * MiB }, pool);
    const part = await reader.next();
    expect(part?.equals(body)).toBe(true);
    expect(await reader.next()).toBeUndefined();
    if (part !== undefined) pool.release(part);
    // Assembled in a block, it would have been kept for reuse: 8 MiB for a 1 KiB object.
    expect(pool.freeBytes).toBe(0);
  });
});
