import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createInlinePayload, inflateInlinePayload, InvalidEventError, type Compression } from '../src/index.js';

describe('inline payloads', () => {
  const body = Buffer.from('layer.0.attention.wq.weight\n'.repeat(200));

  it('compress and inflate back to the same bytes under every compression', () => {
    for (const compression of ['NONE', 'GZIP', 'BROTLI'] as Compression[]) {
      const payload = createInlinePayload(body, compression);
      expect(payload.uncompressedSize).toBe(body.length);
      if (compression !== 'NONE') expect(payload.bytes.length).toBeLessThan(body.length);
      expect(inflateInlinePayload(payload).equals(body)).toBe(true);
    }
  });

  it('refuse a payload that inflates to a different size than declared', () => {
    const payload = { ...createInlinePayload(body, 'GZIP'), uncompressedSize: body.length + 1 };
    expect(() => inflateInlinePayload(payload)).toThrow(/expected/);
  });

  it('stop inflating at the declared size, so a small payload cannot expand without bound', () => {
    const bomb = gzipSync(Buffer.alloc(10_000_000));
    expect(() => inflateInlinePayload({ kind: 'inline', bytes: bomb, compression: 'GZIP', uncompressedSize: 10 })).toThrow(InvalidEventError);
  });

  it('refuse bytes that are not valid for the declared compression', () => {
    expect(() => inflateInlinePayload({ kind: 'inline', bytes: Buffer.from('not gzip'), compression: 'GZIP', uncompressedSize: 8 })).toThrow(/does not decompress as GZIP/);
  });
});
