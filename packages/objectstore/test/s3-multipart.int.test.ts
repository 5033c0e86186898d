import { createHash } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { Readable } from 'node:stream';
import { ChecksumMismatchError } from '@shardsync/integrity';
import { describe, expect, test } from 'vitest';
import { EtagHasher, expectedEtag, isS3ProxyArtifact, SHA256_METADATA_KEY, SizeMismatchError, SourceStreamError } from '../src/index.js';
import { body, bucketContents, chunked, createTestStore, eventually, readAll, SMALL_PARTS } from './helpers.js';

const MiB = 1024 * 1024;
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const md5 = (b: Uint8Array): Buffer => createHash('md5').update(b).digest();
const partMd5s = (b: Buffer, part: number): Buffer[] => {
  const out: Buffer[] = [];
  for (let i = 0; i < b.byteLength; i += part) out.push(md5(b.subarray(i, i + part)));
  return out;
};

describe('multipart writes against a real S3 server', () => {
  test('identical bodies above the threshold get identical multipart ETags, following the published rule', async () => {
    const { store } = await createTestStore(SMALL_PARTS);
    const data = body(11 * MiB + 123);
    const viaBuffer = await store.put('ds/one', data, { metadata: { [SHA256_METADATA_KEY]: sha256(data) } });
    const viaStream = await store.put('ds/two', chunked(data)); // unknown size, 64 KiB chunks
    const rule = { singlePutMaxBytes: 5 * MiB, partSizeBytes: 5 * MiB };
    const expected = expectedEtag(data.byteLength, partMd5s(data, 5 * MiB), rule);
    expect(expected).toMatch(/^"[0-9a-f]{32}-3"$/);
    expect(viaBuffer).toEqual({ etag: expected, size: data.byteLength, sha256: sha256(data) });
    expect(viaStream.etag).toBe(expected);
    expect(new EtagHasher(rule).update(data).digest()).toBe(expected);

    const listed = [];
    for await (const e of store.list({ prefix: 'ds/' })) listed.push(e);
    expect(listed.map((e) => [e.key, e.etag, e.size])).toEqual([
      ['ds/one', expected, data.byteLength],
      ['ds/two', expected, data.byteLength],
    ]);
    const info = await store.head('ds/one');
    expect(info?.metadata[SHA256_METADATA_KEY]).toBe(sha256(data));
    expect(sha256(await readAll((await store.get('ds/two')).body))).toBe(sha256(data)); // toEqual on MiBs of bytes takes a minute
  });

  test('a SHA-256 mismatch aborts the multipart upload: no object and no incomplete upload remain', async () => {
    const { store, raw, bucket } = await createTestStore(SMALL_PARTS);
    const data = body(12 * MiB);
    const err: unknown = await store.put('ds/bad', chunked(data), { expectedSha256: sha256(Buffer.from('something else')) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect(await store.head('ds/bad')).toBeUndefined();
    expect(await bucketContents(raw, bucket)).toEqual({ keys: [], uploads: [] });
  });

  test('a mismatch below the threshold is found before the PUT is sent', async () => {
    const { store, raw, bucket } = await createTestStore(SMALL_PARTS);
    const data = body(MiB);
    await expect(store.put('ds/small', data, { metadata: { [SHA256_METADATA_KEY]: sha256(Buffer.from('x')) } })).rejects.toBeInstanceOf(ChecksumMismatchError);
    expect(await bucketContents(raw, bucket)).toEqual({ keys: [], uploads: [] });
  });

  test('a source stream that fails half way aborts the upload and reports a SourceStreamError', async () => {
    const { store, raw, bucket } = await createTestStore(SMALL_PARTS);
    const source = Readable.from(
      (async function* () {
        yield body(7 * MiB);
        await new Promise((resolve) => setImmediate(resolve));
        throw Object.assign(new Error('upstream reset'), { code: 'ECONNRESET' });
      })(),
      { objectMode: false },
    );
    const err: unknown = await store.put('ds/broken', source).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceStreamError);
    expect((err as SourceStreamError).retriable).toBe(true);
    expect(await bucketContents(raw, bucket)).toEqual({ keys: [], uploads: [] });
  });

  test('a body shorter than announced is refused without storing anything', async () => {
    const { store, raw, bucket } = await createTestStore(SMALL_PARTS);
    await expect(store.put('ds/short', chunked(body(11 * MiB)), { size: 12 * MiB })).rejects.toBeInstanceOf(SizeMismatchError);
    await expect(store.put('ds/long', chunked(body(2 * MiB)), { size: MiB })).rejects.toBeInstanceOf(SizeMismatchError);
    expect(await bucketContents(raw, bucket)).toEqual({ keys: [], uploads: [] });
  });

  test('a copy above the threshold is a multipart copy with the same ETag as the source, reporting each part copied', async () => {
    const { store } = await createTestStore(SMALL_PARTS);
    const data = body(11 * MiB);
    const put = await store.put('.shardsync/staging/x', data, { metadata: { a: '1' } });
    const progress: number[] = [];
    const copied = await store.copy('.shardsync/staging/x', 'ds/copied', { metadata: { 'shardsync-version': '2' }, onProgress: (n) => progress.push(n) });
    expect(copied).toEqual({ etag: put.etag, size: data.byteLength });
    expect(progress.sort((a, b) => a - b)).toEqual([1 * MiB, 5 * MiB, 5 * MiB]);
    expect(await store.head('ds/copied')).toMatchObject({ etag: put.etag, metadata: { 'shardsync-version': '2' } });
    expect(sha256(await readAll((await store.get('ds/copied')).body))).toBe(sha256(data));
  });

  test('while a multipart upload runs, the listing shows only stored objects (listExclude hides s3proxy artifacts)', async () => {
    const { store, raw, bucket } = await createTestStore({ ...SMALL_PARTS, listExclude: isS3ProxyArtifact });
    await store.put('ds/kept', Buffer.from('k'));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const source = Readable.from(
      (async function* () {
        yield body(11 * MiB); // two parts, past the threshold: the upload starts
        await gate;
        yield body(MiB);
      })(),
      { objectMode: false },
    );
    const upload = store.put('ds/pending', source);
    try {
      // s3proxy 2.6.0 lists the running upload's stub objects (`.mpus-<id>-...`, `<id>`) here.
      await eventually(async () => (await bucketContents(raw, bucket)).uploads.includes('ds/pending'));
      const listed = [];
      for await (const e of store.list()) listed.push(e.key);
      expect(listed).toEqual(['ds/kept']);
    } finally {
      release();
      await upload;
    }
    const after = [];
    for await (const e of store.list()) after.push(e.key);
    expect(after).toEqual(['ds/kept', 'ds/pending']);
  });

  test('a long-lived signal given to every multipart upload (a service\'s shutdown signal) keeps nothing of them once they are done', async () => {
    const { store } = await createTestStore(SMALL_PARTS);
    const shutdown = new AbortController();
    // The probe sees what AbortSignal.any keeps on this Node (else the check below could not fail).
    const probe = new AbortController();
    expect(AbortSignal.any([probe.signal]).aborted).toBe(false);
    expect(dependantsOf(probe.signal)).toBe(1);
    const data = body(11 * MiB);
    for (const key of ['ds/a', 'ds/b', 'ds/c']) await store.put(key, chunked(data), { signal: shutdown.signal });
    expect(dependantsOf(shutdown.signal)).toBe(0);
    expect(listenersOf(shutdown.signal)).toBe(0);
  });
});

/** Signals Node keeps on `signal` for AbortSignal.any (an internal set; read through its symbol). */
function dependantsOf(signal: AbortSignal): number {
  const symbol = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kDependantSignals');
  const size = symbol === undefined ? undefined : (signal as unknown as Record<symbol, { size?: unknown } | undefined>)[symbol]?.size;
  return typeof size === 'number' ? size : 0;
}

function listenersOf(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}
