import { createHash } from 'node:crypto';
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, test } from 'vitest';
import {
  InvalidRangeError,
  isS3ProxyArtifact,
  NoSuchBucketError,
  ObjectNotFoundError,
  PreconditionFailedError,
  S3ObjectStore,
  SHA256_METADATA_KEY,
  singlePartEtag,
} from '../src/index.js';
import { createS3Client } from '../src/client.js';
import { compileObjectStoreOptions } from '../src/options.js';
import { fastListObjectsV2Command } from '../src/s3-list-deserializer.js';
import { body, createTestStore, readAll, testS3Server } from './helpers.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const md5 = (b: Uint8Array): Buffer => createHash('md5').update(b).digest();

describe('S3ObjectStore against a real S3 server', () => {
  test('user metadata round-trips with lower-cased keys, and the ETag is the MD5 of the body', async () => {
    const { store } = await createTestStore();
    const data = body(1000);
    const put = await store.put('models/a.bin', data, {
      metadata: { 'Shardsync-Version': '7', 'x-amz-meta-Shardsync-Event-Id': 'ev-1', [SHA256_METADATA_KEY]: sha256(data) },
      contentType: 'application/octet-stream',
    });
    expect(put).toEqual({ etag: singlePartEtag(md5(data)), size: 1000, sha256: sha256(data) });

    const info = await store.head('models/a.bin');
    expect(info).toMatchObject({
      key: 'models/a.bin',
      size: 1000,
      etag: put.etag,
      contentType: 'application/octet-stream',
      metadata: { 'shardsync-version': '7', 'shardsync-event-id': 'ev-1', [SHA256_METADATA_KEY]: sha256(data) },
    });
    expect(info?.lastModified).toBeInstanceOf(Date);

    const got = await store.get('models/a.bin');
    expect(got.info.etag).toBe(put.etag);
    expect(await readAll(got.body)).toEqual(data);
  });

  test('a missing key is undefined for head and ObjectNotFoundError for get', async () => {
    const { store } = await createTestStore();
    expect(await store.head('nope')).toBeUndefined();
    await expect(store.get('nope')).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  test('a range GET returns those bytes and the size of the whole object', async () => {
    const { store } = await createTestStore();
    const data = body(10_000);
    await store.put('r', data);
    const { info, body: stream } = await store.get('r', { range: { start: 100, end: 199 } });
    expect(info.size).toBe(10_000);
    expect(await readAll(stream)).toEqual(data.subarray(100, 200));
    const tail = await store.get('r', { range: { start: 9_990, end: 20_000 } });
    expect(await readAll(tail.body)).toEqual(data.subarray(9_990));
    await expect(store.get('r', { range: { start: 10_000, end: 10_001 } })).rejects.toBeInstanceOf(InvalidRangeError);
  });

  test('a GET with a stale If-Match fails instead of reading a newer version', async () => {
    const { store } = await createTestStore();
    const first = await store.put('k', body(10));
    await store.put('k', body(10));
    await expect(store.get('k', { ifMatch: first.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
  });

  test('list pages through keys in order, honouring prefix and startAfter', async () => {
    const { store } = await createTestStore();
    for (let i = 0; i < 7; i++) await store.put(`ds/${i}`, Buffer.from(`v${i}`));
    await store.put('other/x', Buffer.from('x'));
    const all = [];
    for await (const e of store.list({ prefix: 'ds/', pageSize: 3 })) all.push(e);
    expect(all.map((e) => e.key)).toEqual(['ds/0', 'ds/1', 'ds/2', 'ds/3', 'ds/4', 'ds/5', 'ds/6']);
    expect(all[0]).toMatchObject({ size: 2, etag: singlePartEtag(md5(Buffer.from('v0'))) });
    const after = [];
    for await (const e of store.list({ prefix: 'ds/', startAfter: 'ds/4', pageSize: 1 })) after.push(e.key);
    expect(after).toEqual(['ds/5', 'ds/6']);
  });

  test('a folders listing in any order yields exactly the keys a flat listing yields, across nested folders and pages', async () => {
    const { store } = await createTestStore({ listing: 'folders', listConcurrency: 3, listExclude: isS3ProxyArtifact });
    const keys = ['ds/top', 'ds/a/1', 'ds/a/2', 'ds/a/b/c/deep', 'ds/a-sibling', 'ds/z/only', 'ds/z/y/x', 'dsx/outside', 'other/x'];
    for (let i = 0; i < 5; i++) keys.push(`ds/many/${i}`);
    for (const k of keys) await store.put(k, Buffer.from(k));
    const flat: string[] = [];
    for await (const e of store.list({ prefix: 'ds/', pageSize: 2 })) flat.push(e.key);
    const folders: Array<{ key: string; etag: string }> = [];
    for await (const e of store.list({ prefix: 'ds/', pageSize: 2, order: 'any' })) folders.push({ key: e.key, etag: e.etag });
    const expected = keys.filter((k) => k.startsWith('ds/')).sort();
    expect(flat).toEqual(expected);
    expect(folders.map((e) => e.key).sort()).toEqual(expected);
    expect(folders.find((e) => e.key === 'ds/a/b/c/deep')?.etag).toBe(singlePartEtag(md5(Buffer.from('ds/a/b/c/deep'))));
    // Without a prefix it walks from the bucket's root.
    const root: string[] = [];
    for await (const e of store.list({ order: 'any' })) root.push(e.key);
    expect(root.sort()).toEqual([...keys].sort());
  });

  test('keys with XML-special, non-ASCII and space characters list exactly as written, with size, ETag and time, flat and by folders', async () => {
    const { store } = await createTestStore({ listing: 'folders', listExclude: isS3ProxyArtifact });
    const keys = ['ds/a&b', 'ds/<tag>/"q"', "ds/it's", 'ds/ünï cödé/😀', 'ds/plus+sign and space', 'ds/semi;colon=&amp;'];
    const started = Date.now() - 60_000;
    for (const k of keys) await store.put(k, Buffer.from(`body of ${k}`));
    const expected = keys.map((key) => ({ key, size: Buffer.byteLength(`body of ${key}`), etag: singlePartEtag(md5(Buffer.from(`body of ${key}`))) }));
    const flat = [];
    for await (const e of store.list({ prefix: 'ds/', pageSize: 2 })) flat.push(e);
    expect(flat.map(({ key, size, etag }) => ({ key, size, etag }))).toEqual([...expected].sort((a, b) => (a.key < b.key ? -1 : 1)));
    for (const e of flat) expect(e.lastModified.getTime()).toBeGreaterThan(started);
    const folders = [];
    for await (const e of store.list({ prefix: 'ds/', pageSize: 2, order: 'any' })) folders.push({ key: e.key, size: e.size, etag: e.etag });
    expect(folders.sort((a, b) => (a.key < b.key ? -1 : 1))).toEqual([...expected].sort((a, b) => (a.key < b.key ? -1 : 1)));
  });

  test('on a client built by createS3Client, a plain ListObjectsV2Command sent after a fast listing keeps the SDK output', async () => {
    const { bucket, store } = await createTestStore();
    await store.put('ds/a', Buffer.from('a'));
    const { endpoint, region } = testS3Server();
    const { client } = createS3Client({ datacenter: 'test', endpoint, region, bucket }, compileObjectStoreOptions());
    try {
      const fast = await client.send(fastListObjectsV2Command({ Bucket: bucket, Prefix: 'ds/' }));
      expect(fast.Contents?.map((c) => c.Key)).toEqual(['ds/a']);
      expect(fast.KeyCount).toBeUndefined(); // the fast parser reads only what the store needs
      const plain = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'ds/' }));
      expect(plain.Contents?.map((c) => c.Key)).toEqual(['ds/a']);
      expect(plain.KeyCount).toBe(1);
    } finally {
      client.destroy();
    }
  });

  test('listing a bucket that does not exist fails with NoSuchBucketError naming the bucket', async () => {
    const { endpoint, region } = testS3Server();
    const missing = new S3ObjectStore({ datacenter: 'dc-x', endpoint, region, bucket: 'no-such-bucket-list' });
    try {
      const consume = async (): Promise<void> => {
        for await (const e of missing.list({ prefix: 'ds/' })) void e;
      };
      const err: unknown = await consume().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NoSuchBucketError);
      expect((err as NoSuchBucketError).message).toContain('no-such-bucket-list');
    } finally {
      await missing.close();
    }
  });

  test('an unordered listing cannot resume after a key, and says so', async () => {
    const { store } = await createTestStore({ listing: 'folders' });
    const consume = async (): Promise<void> => {
      for await (const e of store.list({ startAfter: 'a', order: 'any' })) void e;
    };
    await expect(consume()).rejects.toThrow(/startAfter needs a sorted listing/);
  });

  test('a folders listing stopped early starts no further folders and leaves the store usable', async () => {
    const { store } = await createTestStore({ listing: 'folders', listConcurrency: 2 });
    for (let i = 0; i < 6; i++) await store.put(`f${i}/k`, Buffer.from('x'));
    for await (const e of store.list({ order: 'any' })) {
      expect(e.key).toMatch(/^f\d\/k$/);
      break;
    }
    expect(await store.head('f5/k')).toMatchObject({ size: 1 });
  });

  test('a put vouched for by its source ETag stores the body without rehashing it, and a wrong claim still stores the right bytes', async () => {
    const { store } = await createTestStore();
    const data = body(4096);
    const source = await store.put('src', data);
    const copied = await store.put('dst', data, { sourceEtag: source.etag });
    expect(copied.etag).toBe(source.etag);
    const other = singlePartEtag(md5(Buffer.from('some other body')));
    const fixed = await store.put('dst2', data, { sourceEtag: other });
    expect(fixed.etag).toBe(singlePartEtag(md5(data)));
    expect(await readAll((await store.get('dst2')).body)).toEqual(data);
    expect((await store.head('dst2'))?.etag).toBe(singlePartEtag(md5(data)));
  });

  test('delete removes a key, and deleting a missing key succeeds', async () => {
    const { store } = await createTestStore();
    await store.put('d', body(5));
    await store.delete('d');
    expect(await store.head('d')).toBeUndefined();
    await expect(store.delete('d')).resolves.toBeUndefined();
  });

  test('copy replaces metadata when given and keeps the source metadata otherwise', async () => {
    const { store } = await createTestStore();
    const data = body(2048);
    const src = await store.put('.shardsync/staging/abc', data, { metadata: { a: '1' }, contentType: 'text/plain' });
    const replaced = await store.copy('.shardsync/staging/abc', 'ds/with space+plus/ünï.bin', { metadata: { 'Shardsync-Version': '3' } });
    expect(replaced).toEqual({ etag: src.etag, size: 2048 });
    expect(await store.head('ds/with space+plus/ünï.bin')).toMatchObject({ metadata: { 'shardsync-version': '3' }, contentType: 'text/plain' });
    await store.copy('.shardsync/staging/abc', 'kept');
    expect((await store.head('kept'))?.metadata).toEqual({ a: '1' });
    await expect(store.copy('missing', 'x')).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(store.copy('kept', 'y', { sourceIfMatch: '"0000"' })).rejects.toBeInstanceOf(PreconditionFailedError);
  });

  test('ping succeeds on an existing bucket and names bucket and endpoint when it is missing', async () => {
    const { store } = await createTestStore();
    await expect(store.ping()).resolves.toBeUndefined();
    const { endpoint, region } = testS3Server();
    const missing = new S3ObjectStore({ datacenter: 'dc-x', endpoint, region, bucket: 'no-such-bucket-objstore' });
    try {
      const err: unknown = await missing.ping().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NoSuchBucketError);
      expect((err as NoSuchBucketError).message).toContain('no-such-bucket-objstore');
      expect((err as NoSuchBucketError).message).toContain(endpoint);
      expect((err as NoSuchBucketError).retriable).toBe(false);
    } finally {
      await missing.close();
    }
  });

  test.each(['flat', 'folders'] as const)('a %s listing returns keys with characters XML 1.0 cannot carry (controls) exactly, and every other key with them', async (listing) => {
    const { store, raw, bucket } = await createTestStore({ listing });
    // S3 accepts such keys; shardsync's key rules refuse them, so only a writer other than shardsync puts them there.
    const keys = ['odd/a\u0001b', 'odd/tab\there', 'odd/plus+and space%20.bin', 'odd/ok.bin', 'odd/sub\u001f/deeper.bin'];
    for (const key of keys) await raw.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x' }));
    const listed: string[] = [];
    try {
      for await (const entry of store.list({ prefix: 'odd/', order: 'any' })) listed.push(entry.key);
    } finally {
      // The bucket's cleanup lists with the SDK, which cannot parse such a listing either.
      for (const key of keys) await raw.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    }
    expect(listed.sort()).toEqual([...keys].sort());
  });
});
