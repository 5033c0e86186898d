import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ChecksumMismatchError } from '@shardsync/integrity';
import { describe, expect, test } from 'vitest';
import {
  etagOfBytes,
  InvalidRangeError,
  MemoryObjectStore,
  ObjectNotFoundError,
  OperationAbortedError,
  PreconditionFailedError,
  SizeMismatchError,
  SourceStreamError,
  StoreClosedError,
  StoreUnavailableError,
  type ObjectStore,
  type UploadEntry,
} from '../src/index.js';

const MiB = 1024 * 1024;
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

async function keysOf(store: ObjectStore, options: Parameters<ObjectStore['list']>[0] = {}): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of store.list(options)) keys.push(e.key);
  return keys;
}

describe('MemoryObjectStore', () => {
  test('stores bodies with the same ETag rule as S3, multipart above the threshold', async () => {
    const store = new MemoryObjectStore({ singlePutMaxBytes: 5 * MiB, partSizeBytes: 5 * MiB });
    const big = Buffer.alloc(2 * 5 * MiB + 100, 7);
    const put = await store.put('ds/big', Readable.from([big.subarray(0, 3 * MiB), big.subarray(3 * MiB)]));
    expect(put).toEqual({ etag: '"2a837b2df74e1c867a4eb0dbf7ad03c0-3"', size: big.length, sha256: sha256(big) }); // as s3proxy computed it
    const small = await store.put('ds/small', Buffer.from('hello'));
    expect(small.etag).toBe('"5d41402abc4b2a76b9719d911017c592"');
    expect((await store.head('ds/big'))?.etag).toBe(etagOfBytes(big, store.options));
  });

  test('metadata comes back lower-cased, with content type and the store clock', async () => {
    const now = new Date('2026-01-02T03:04:05Z');
    const store = new MemoryObjectStore({ now: () => now });
    await store.put('k', Buffer.from('x'), { metadata: { 'Shardsync-Version': '3' }, contentType: 'text/plain' });
    expect(await store.head('k')).toEqual({
      key: 'k',
      size: 1,
      etag: etagOfBytes(Buffer.from('x'), store.options),
      lastModified: now,
      metadata: { 'shardsync-version': '3' },
      contentType: 'text/plain',
    });
  });

  test('get returns the body or a range of it, and the size of the whole object', async () => {
    const store = new MemoryObjectStore();
    await store.put('k', Buffer.from('0123456789'));
    expect((await readAll((await store.get('k')).body)).toString()).toBe('0123456789');
    const ranged = await store.get('k', { range: { start: 2, end: 4 } });
    expect(ranged.info.size).toBe(10);
    expect((await readAll(ranged.body)).toString()).toBe('234');
    expect((await readAll((await store.get('k', { range: { start: 8, end: 100 } })).body)).toString()).toBe('89');
    await expect(store.get('k', { range: { start: 10, end: 11 } })).rejects.toBeInstanceOf(InvalidRangeError);
    await expect(store.get('missing')).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect(await store.head('missing')).toBeUndefined();
  });

  test('conditional writes follow S3 semantics', async () => {
    const store = new MemoryObjectStore();
    const first = await store.put('k', Buffer.from('1'), { ifNoneMatch: '*' });
    await expect(store.put('k', Buffer.from('2'), { ifNoneMatch: '*' })).rejects.toBeInstanceOf(PreconditionFailedError);
    const second = await store.put('k', Buffer.from('2'), { ifMatch: first.etag });
    await expect(store.put('k', Buffer.from('3'), { ifMatch: first.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
    await expect(store.put('new', Buffer.from('3'), { ifMatch: first.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
    await expect(store.get('k', { ifMatch: first.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
    await expect(store.delete('k', { ifMatch: first.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
    await store.delete('k', { ifMatch: second.etag });
    expect(store.keys()).toEqual([]);
    await expect(store.delete('k')).resolves.toBeUndefined();
  });

  test('a body that does not match its checksum or announced size stores nothing', async () => {
    const store = new MemoryObjectStore();
    await expect(store.put('k', Buffer.from('x'), { metadata: { 'shardsync-sha256': sha256(Buffer.from('y')) } })).rejects.toBeInstanceOf(ChecksumMismatchError);
    await expect(store.put('k', Buffer.from('xy'), { size: 3 })).rejects.toBeInstanceOf(SizeMismatchError);
    const failing = new Readable({
      read() {
        this.destroy(Object.assign(new Error('upstream reset'), { code: 'ECONNRESET' }));
      },
    });
    const err: unknown = await store.put('k', failing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceStreamError);
    expect((err as SourceStreamError).retriable).toBe(true);
    expect(store.keys()).toEqual([]);
  });

  test('copy keeps the ETag and either keeps or replaces metadata', async () => {
    const store = new MemoryObjectStore();
    const src = await store.put('src', Buffer.from('data'), { metadata: { a: '1' }, contentType: 'text/plain' });
    expect(await store.copy('src', 'kept')).toEqual({ etag: src.etag, size: 4 });
    expect((await store.head('kept'))?.metadata).toEqual({ a: '1' });
    await store.copy('src', 'replaced', { metadata: { B: '2' } });
    expect(await store.head('replaced')).toMatchObject({ metadata: { b: '2' }, contentType: 'text/plain' });
    await expect(store.copy('src', 'kept', { ifNoneMatch: '*' })).rejects.toBeInstanceOf(PreconditionFailedError);
    await expect(store.copy('src', 'x', { sourceIfMatch: '"other"' })).rejects.toBeInstanceOf(PreconditionFailedError);
    await expect(store.copy('missing', 'x')).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  test('list pages in UTF-8 byte order with prefix and startAfter, like S3', async () => {
    const store = new MemoryObjectStore({ listPageSize: 2 });
    // U+FFFF sorts before U+10000 in UTF-8 but after it in JavaScript's UTF-16 order.
    for (const k of ['b/2', 'b/1', 'a', 'b/\u{10000}', 'b/\uffff', 'c']) await store.put(k, Buffer.from(k));
    expect(await keysOf(store)).toEqual(['a', 'b/1', 'b/2', 'b/\uffff', 'b/\u{10000}', 'c']);
    expect(await keysOf(store, { prefix: 'b/', startAfter: 'b/1' })).toEqual(['b/2', 'b/\uffff', 'b/\u{10000}']);
    const listed = [];
    for await (const e of store.list({ prefix: 'a' })) listed.push(e);
    expect(listed).toEqual([{ key: 'a', size: 1, etag: etagOfBytes(Buffer.from('a'), store.options), lastModified: expect.any(Date) as Date }]);
  });

  test('injected faults fail matching calls the given number of times', async () => {
    const store = new MemoryObjectStore();
    await store.put('k', Buffer.from('x'));
    store.injectFault({ operation: 'head', key: /^k$/, error: () => new StoreUnavailableError('injected'), times: 2 });
    await expect(store.head('k')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.head('other')).resolves.toBeUndefined();
    await expect(store.head('k')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.head('k')).resolves.toBeDefined();

    const remove = store.injectFault({ operation: '*', error: new StoreUnavailableError('down'), times: Infinity });
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(keysOf(store)).rejects.toBeInstanceOf(StoreUnavailableError);
    remove();
    await expect(store.ping()).resolves.toBeUndefined();
  });

  test('beforeOperation can hold a call to stage a race', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let puts = 0;
    const store = new MemoryObjectStore({ beforeOperation: (op) => (op === 'put' && puts++ === 0 ? held : undefined) });
    const slow = store.put('slow', Buffer.from('late'), { ifNoneMatch: '*' });
    await store.put('slow', Buffer.from('early'));
    release();
    await expect(slow).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(store.peek('slow')?.data.toString()).toBe('early');
  });

  test('aborted and closed stores refuse calls', async () => {
    const store = new MemoryObjectStore();
    await expect(store.head('k', { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(OperationAbortedError);
    await store.close();
    await expect(store.head('k')).rejects.toBeInstanceOf(StoreClosedError);
  });
});

describe('MemoryObjectStore incomplete uploads', () => {
  const uploadsOf = async (store: MemoryObjectStore, prefix?: string, pageSize?: number): Promise<UploadEntry[]> => {
    const out: UploadEntry[] = [];
    for await (const u of store.listUploads({ prefix, pageSize })) out.push(u);
    return out;
  };

  test('put never leaves an upload behind, even when the body fails half way', async () => {
    const store = new MemoryObjectStore({ singlePutMaxBytes: 5 * MiB, partSizeBytes: 5 * MiB });
    await store.put('ds/big', Buffer.alloc(11 * MiB));
    await expect(store.put('ds/bad', Buffer.alloc(11 * MiB), { expectedSha256: sha256(Buffer.from('other')) })).rejects.toBeInstanceOf(ChecksumMismatchError);
    expect(await uploadsOf(store)).toEqual([]);
  });

  test('begun uploads list by prefix, in key then initiation order, page by page, and abort once', async () => {
    const store = new MemoryObjectStore();
    const b2 = store.beginUpload('st/b', 2000);
    const b1 = store.beginUpload('st/b', 1000);
    const a = store.beginUpload('st/a', 3000);
    store.beginUpload('other/x', 0);
    expect(await uploadsOf(store, 'st/', 1)).toEqual([
      { key: 'st/a', uploadId: a, initiatedMs: 3000 },
      { key: 'st/b', uploadId: b1, initiatedMs: 1000 },
      { key: 'st/b', uploadId: b2, initiatedMs: 2000 },
    ]);
    expect(await store.abortUpload('st/b', b1)).toBe(true);
    expect(await store.abortUpload('st/b', b1)).toBe(false);
    // An upload id names an upload of its own key only, as on S3.
    expect(await store.abortUpload('st/a', b2)).toBe(false);
    expect((await uploadsOf(store, 'st/')).map((u) => u.uploadId)).toEqual([a, b2]);
  });
});
