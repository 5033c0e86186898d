import { setImmediate } from 'node:timers/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { HashingStream, hashStream, sha256Hex } from '../src/index.js';

// FIPS 180-2 test vector.
const ABC_SHA256 = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

function sink(): { writable: Writable; chunks: Buffer[] } {
  const chunks: Buffer[] = [];
  const writable = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  return { writable, chunks };
}

describe('sha256Hex', () => {
  it('matches the published SHA-256 of "abc" for both strings and bytes', () => {
    expect(sha256Hex('abc')).toBe(ABC_SHA256);
    expect(sha256Hex(Buffer.from('abc'))).toBe(ABC_SHA256);
  });
});

describe('HashingStream', () => {
  it('passes bytes through unchanged and reports the same digest as hashing them in one piece', async () => {
    const body = Buffer.from('x'.repeat(10_000) + 'tail');
    const hasher = new HashingStream();
    const { writable, chunks } = sink();
    await pipeline(Readable.from([body.subarray(0, 3), body.subarray(3, 5000), body.subarray(5000)]), hasher, writable);
    expect(Buffer.concat(chunks).equals(body)).toBe(true);
    expect(hasher.result()).toEqual({ sha256: sha256Hex(body), size: body.length });
  });

  it('has its digest ready by the time the consumer sees "end"', async () => {
    const hasher = new HashingStream();
    const seenAtEnd = new Promise<string | undefined>((resolve) => hasher.on('end', () => resolve(hasher.sha256)));
    hasher.resume();
    hasher.end(Buffer.from('abc'));
    expect(await seenAtEnd).toBe(ABC_SHA256);
  });

  it('refuses to report a result before the stream has finished', () => {
    const hasher = new HashingStream();
    hasher.write(Buffer.from('partial'));
    expect(hasher.sha256).toBeUndefined();
    expect(() => hasher.result()).toThrow(/before the stream finished/);
    hasher.destroy();
  });

  it('hashes an empty body as the SHA-256 of nothing', async () => {
    const hasher = new HashingStream();
    await pipeline(Readable.from([]), hasher, sink().writable);
    expect(hasher.result()).toEqual({ sha256: sha256Hex(''), size: 0 });
  });
});

describe('hashStream', () => {
  it('hashes a Readable and an async generator to the same digest and size', async () => {
    const parts = ['hello ', 'wörld'];
    async function* generate(): AsyncGenerator<Uint8Array> {
      for (const part of parts) {
        await setImmediate(); // a real stream yields between chunks
        yield Buffer.from(part);
      }
    }
    const expected = { sha256: sha256Hex(parts.join('')), size: Buffer.byteLength(parts.join('')) };
    expect(await hashStream(Readable.from(parts.map((p) => Buffer.from(p))))).toEqual(expected);
    expect(await hashStream(generate())).toEqual(expected);
  });

  it('hashes string chunks as UTF-8 and counts bytes, not characters', async () => {
    const result = await hashStream(['é']);
    expect(result).toEqual({ sha256: sha256Hex(Buffer.from('é', 'utf8')), size: 2 });
  });
});
