import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import {
  comparableEtag,
  EtagHasher,
  etagOfBytes,
  expectedEtag,
  InvalidArgumentError,
  multipartEtag,
  normalizeEtag,
  objectLayout,
  sameEtag,
  singlePartEtag,
} from '../src/index.js';

const MiB = 1024 * 1024;
const md5 = (b: Uint8Array): Buffer => createHash('md5').update(b).digest();
const rule = { singlePutMaxBytes: 5 * MiB, partSizeBytes: 5 * MiB };

describe('the ETag rule', () => {
  test('objects up to the threshold are single-request, larger ones use fixed-size parts', () => {
    expect(objectLayout(0, rule)).toEqual({ kind: 'single' });
    expect(objectLayout(5 * MiB, rule)).toEqual({ kind: 'single' });
    expect(objectLayout(5 * MiB + 1, rule)).toEqual({ kind: 'multipart', partCount: 2, partSizeBytes: 5 * MiB, lastPartBytes: 1 });
    expect(objectLayout(15 * MiB, rule)).toEqual({ kind: 'multipart', partCount: 3, partSizeBytes: 5 * MiB, lastPartBytes: 5 * MiB });
    expect(objectLayout(20 * MiB, { singlePutMaxBytes: 16 * MiB, partSizeBytes: 8 * MiB })).toMatchObject({ partCount: 3, lastPartBytes: 4 * MiB });
  });

  test('an object that would need more than 10,000 parts is refused with advice', () => {
    expect(() => objectLayout(5 * MiB * 10_000 + 1, rule)).toThrow(/raise partSizeBytes/);
    expect(() => objectLayout(-1, rule)).toThrow(InvalidArgumentError);
  });

  test('matches the multipart ETag s3proxy computed for the same body (known answer)', () => {
    // 10 MiB + 100 bytes of 0x07 in 5 MiB parts; s3proxy 2.6.0 answered this ETag.
    const body = Buffer.alloc(2 * 5 * MiB + 100, 7);
    const parts = [body.subarray(0, 5 * MiB), body.subarray(5 * MiB, 10 * MiB), body.subarray(10 * MiB)].map(md5);
    expect(multipartEtag(parts)).toBe('"2a837b2df74e1c867a4eb0dbf7ad03c0-3"');
    expect(expectedEtag(body.byteLength, parts, rule)).toBe('"2a837b2df74e1c867a4eb0dbf7ad03c0-3"');
    expect(etagOfBytes(body, rule)).toBe('"2a837b2df74e1c867a4eb0dbf7ad03c0-3"');
  });

  test('a single-request ETag is the quoted MD5, the empty object included', () => {
    expect(singlePartEtag(md5(Buffer.from('hello')))).toBe('"5d41402abc4b2a76b9719d911017c592"');
    expect(etagOfBytes(Buffer.alloc(0), rule)).toBe('"d41d8cd98f00b204e9800998ecf8427e"');
  });

  test('expectedEtag refuses a number of part MD5s that does not fit the size', () => {
    expect(() => expectedEtag(11 * MiB, [md5(Buffer.from('x'))], rule)).toThrow(/3 part/);
    expect(() => expectedEtag(10, [], rule)).toThrow(InvalidArgumentError);
  });

  test('streaming in odd chunk sizes gives the same ETag as hashing the whole body', () => {
    const body = Buffer.alloc(11 * MiB + 17);
    for (let i = 0; i < body.length; i += 4096) body[i] = i % 251;
    for (const chunk of [4095, 65_536, 5 * MiB - 1, 7 * MiB]) {
      const hasher = new EtagHasher(rule);
      for (let i = 0; i < body.length; i += chunk) hasher.update(body.subarray(i, i + chunk));
      expect(hasher.size).toBe(body.length);
      expect(hasher.digest()).toBe(etagOfBytes(body, rule));
    }
    const small = Buffer.from('small body');
    expect(new EtagHasher(rule).update(small.subarray(0, 3)).update(small.subarray(3)).digest()).toBe(singlePartEtag(md5(small)));
  });

  test('ETags from servers are brought to the quoted form', () => {
    expect(normalizeEtag('abc')).toBe('"abc"');
    expect(normalizeEtag('"abc-2"')).toBe('"abc-2"');
    expect(normalizeEtag('&quot;abc&quot;')).toBe('"abc"');
    expect(normalizeEtag('W/"abc"')).toBe('"abc"');
  });

  test('compares MD5 ETags whatever the case of their hex and their quoting, and other ETags exactly', () => {
    const md5 = '9e107d9d372bb6826bd81d3542a419d6';
    expect(comparableEtag(`"${md5.toUpperCase()}"`)).toBe(`"${md5}"`);
    expect(sameEtag(`"${md5.toUpperCase()}-3"`, `${md5}-3`)).toBe(true);
    expect(sameEtag(`W/"${md5}"`, `&quot;${md5.toUpperCase()}&quot;`)).toBe(true);
    expect(sameEtag(`"${md5}-3"`, `"${md5}-4"`)).toBe(false);
    expect(sameEtag(`"${md5}"`, `"${md5.slice(1)}0"`)).toBe(false);
    // Not an MD5: opaque, so case matters.
    expect(sameEtag('"0x8DABC"', '"0x8dabc"')).toBe(false);
  });
});
