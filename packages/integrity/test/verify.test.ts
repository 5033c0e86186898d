import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { assertDigest, ChecksumMismatchError, InvalidDigestInputError, sha256Hex, VerifyingStream, verifySource } from '../src/index.js';

const BODY = Buffer.from('checkpoint shard 0001 of 0128 '.repeat(100));
const BODY_SHA = sha256Hex(BODY);

/** A sink shaped like a multipart upload: it buffers parts and only "completes" in _final. */
function uploadSink(): { writable: Writable; received: () => number; completed: () => boolean } {
  let received = 0;
  let completed = false;
  const writable = new Writable({
    write(chunk: Buffer, _enc, cb) {
      received += chunk.length;
      cb();
    },
    final(cb) {
      completed = true;
      cb();
    },
  });
  return { writable, received: () => received, completed: () => completed };
}

function chunksOf(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

describe('VerifyingStream', () => {
  it('lets a body with the expected digest and size through and completes the upload', async () => {
    const verifier = new VerifyingStream({ sha256: BODY_SHA, size: BODY.length });
    const upload = uploadSink();
    await pipeline(Readable.from(chunksOf(BODY, 100)), verifier, upload.writable);
    expect(upload.completed()).toBe(true);
    expect(verifier.result()).toEqual({ sha256: BODY_SHA, size: BODY.length });
  });

  it('fails a corrupted body before the upload completes, even though every byte was delivered', async () => {
    const corrupt = Buffer.from(BODY);
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 1) ^ 0xff, corrupt.length - 1);
    const upload = uploadSink();
    const run = pipeline(Readable.from(chunksOf(corrupt, 100)), new VerifyingStream({ sha256: BODY_SHA, size: BODY.length }), upload.writable);
    await expect(run).rejects.toBeInstanceOf(ChecksumMismatchError);
    expect(upload.received()).toBe(BODY.length);
    expect(upload.completed()).toBe(false);
  });

  it('makes an async-iterating reader throw instead of ending normally when the digest is wrong', async () => {
    const verifier = new VerifyingStream({ sha256: sha256Hex('something else') });
    Readable.from([BODY]).pipe(verifier);
    let endedNormally = false;
    const read = async (): Promise<void> => {
      for await (const _chunk of verifier) {
        // drain
      }
      endedNormally = true;
    };
    const error = await read().catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ChecksumMismatchError);
    expect((error as ChecksumMismatchError).code).toBe('SHARDSYNC_CHECKSUM_MISMATCH');
    expect((error as ChecksumMismatchError).retriable).toBe(false);
    expect(endedNormally).toBe(false);
  });

  it('fails a truncated body whose size is short, naming both sizes', async () => {
    const short = BODY.subarray(0, BODY.length - 10);
    const run = pipeline(Readable.from([short]), new VerifyingStream({ sha256: BODY_SHA, size: BODY.length }), uploadSink().writable);
    const error = await run.catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ChecksumMismatchError);
    expect((error as ChecksumMismatchError).details).toMatchObject({ expectedSize: BODY.length, actualSize: short.length });
    expect((error as Error).message).toContain(`${short.length} bytes`);
  });

  it('stops an over-long body as soon as it exceeds the expected size, without reading the rest', async () => {
    const upload = uploadSink();
    const chunks = chunksOf(Buffer.concat([BODY, BODY, BODY]), 100);
    let pulled = 0;
    const source = Readable.from(
      (function* () {
        for (const c of chunks) {
          pulled++;
          yield c;
        }
      })(),
    );
    const run = pipeline(source, new VerifyingStream({ sha256: BODY_SHA, size: BODY.length }), upload.writable);
    const error = await run.catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ChecksumMismatchError);
    expect((error as ChecksumMismatchError).details.actualSha256).toBeUndefined();
    expect(upload.received()).toBeLessThanOrEqual(BODY.length);
    expect(pulled).toBeLessThan(chunks.length);
  });

  it('accepts an uppercase expected digest but rejects one that is not a SHA-256', () => {
    expect(() => new VerifyingStream({ sha256: BODY_SHA.toUpperCase() }).destroy()).not.toThrow();
    expect(() => new VerifyingStream({ sha256: 'abc' })).toThrow(InvalidDigestInputError);
    expect(() => new VerifyingStream({ sha256: BODY_SHA, size: -1 })).toThrow(/non-negative integer/);
  });
});

describe('assertDigest and verifySource', () => {
  it('verifySource returns the digest of a matching body and throws on a different one', async () => {
    await expect(verifySource([BODY], { sha256: BODY_SHA, size: BODY.length })).resolves.toEqual({ sha256: BODY_SHA, size: BODY.length });
    await expect(verifySource([BODY.subarray(1)], { sha256: BODY_SHA })).rejects.toBeInstanceOf(ChecksumMismatchError);
  });

  it('assertDigest checks the size only when one is expected', () => {
    expect(() => assertDigest({ sha256: BODY_SHA, size: 1 }, { sha256: BODY_SHA })).not.toThrow();
    expect(() => assertDigest({ sha256: BODY_SHA, size: 1 }, { sha256: BODY_SHA, size: 2 }, 'models/a.bin')).toThrow(/models\/a\.bin/);
  });
});
