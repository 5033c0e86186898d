import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { InvalidArgumentError, SizeMismatchError } from '../src/errors.js';
import { PartReader } from '../src/part-reader.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function bytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31) % 256;
  return b;
}

/** A byte stream of `data` in `chunk`-byte pieces that records how far it has been read. */
function counted(data: Buffer, chunk: number): { stream: Readable; pulled: () => number } {
  let pulled = 0;
  const stream = Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += chunk) {
        const piece = data.subarray(i, i + chunk);
        pulled += piece.length;
        yield piece;
      }
    })(),
    { objectMode: false, highWaterMark: 1 },
  );
  return { stream, pulled: () => pulled };
}

async function drain(reader: PartReader): Promise<Buffer[]> {
  const parts: Buffer[] = [];
  for (let p = await reader.next(); p !== undefined; p = await reader.next()) parts.push(Buffer.from(p));
  return parts;
}

describe('PartReader', () => {
  test('cuts a stream into parts of exactly the part size, the last one shorter, and hashes it', async () => {
    const data = bytes(1000);
    const reader = new PartReader(counted(data, 37).stream, 300, { maxBytes: 10_000 });
    const parts = await drain(reader);
    expect(parts.map((p) => p.length)).toEqual([300, 300, 300, 100]);
    expect(Buffer.concat(parts)).toEqual(data);
    expect(reader.sha256).toBe(sha256(data));
    expect(reader.bytesRead).toBe(1000);
    expect(reader.done).toBe(true);
  });

  test('reads no further ahead than the part it is assembling', async () => {
    const data = bytes(3000);
    const source = counted(data, 100);
    const reader = new PartReader(source.stream, 1000, { maxBytes: 10_000 });
    await reader.next();
    // One part, plus what the stream itself buffers (highWaterMark 1 chunk) and the chunk in hand.
    expect(source.pulled()).toBeLessThanOrEqual(1000 + 2 * 100);
    await reader.next();
    expect(source.pulled()).toBeLessThanOrEqual(2000 + 2 * 100);
  });

  test('a byte array is one body, and an empty body has no parts', async () => {
    const data = bytes(250);
    expect((await drain(new PartReader(new Uint8Array(data), 100, { maxBytes: 1000 }))).map((p) => p.length)).toEqual([100, 100, 50]);
    const empty = new PartReader(Buffer.alloc(0), 100, { size: 0, maxBytes: 1000 });
    expect(await drain(empty)).toEqual([]);
    expect(empty.sha256).toBe(sha256(Buffer.alloc(0)));
  });

  test('a body shorter or longer than announced fails', async () => {
    await expect(drain(new PartReader(bytes(99), 50, { size: 100, maxBytes: 1000 }))).rejects.toBeInstanceOf(SizeMismatchError);
    await expect(drain(new PartReader(counted(bytes(200), 10).stream, 50, { size: 100, maxBytes: 1000 }))).rejects.toThrow(/longer than the announced 100 bytes/);
  });

  test('a body larger than the part limit allows fails early', async () => {
    await expect(drain(new PartReader(counted(bytes(500), 10).stream, 50, { maxBytes: 200 }))).rejects.toThrow(/raise partSizeBytes/);
  });

  test('a stream of strings is refused', async () => {
    const reader = new PartReader(Readable.from(['text']), 50, { maxBytes: 1000 });
    await expect(reader.next()).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  test('destroy() releases the source without an error event', async () => {
    const source = counted(bytes(1000), 10).stream;
    const errors: unknown[] = [];
    source.on('error', (e) => errors.push(e));
    const reader = new PartReader(source, 100, { maxBytes: 10_000 });
    await reader.next();
    reader.destroy();
    expect(source.destroyed).toBe(true);
    expect(await reader.next()).toBeUndefined();
    expect(errors).toEqual([]);
  });
});
