import { CopyObjectCommand, DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { describe, expect, test, type TestContext } from 'vitest';
import { CONDITIONAL_PROBE_PREFIX, PreconditionFailedError, type ConditionalWriteMode } from '../src/index.js';
import { body, bucketContents, chunked, createTestStore, readAll, SMALL_PARTS } from './helpers.js';

const MiB = 1024 * 1024;

/** Whether a request is refused with 412, i.e. the server enforced its condition. */
async function refused(request: Promise<unknown>): Promise<boolean> {
  try {
    await request;
    return false;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412) return true;
    throw err;
  }
}

/**
 * Which requests the server enforces `If-None-Match: *` on, asked with the raw SDK: s3proxy 2.6.0
 * on none, 4.1.0 on PutObject but not CopyObject. Leaves `probe` with the body `second` if ignored.
 */
async function serverEnforces(raw: S3Client, bucket: string): Promise<{ write: boolean; copy: boolean; delete: boolean }> {
  await raw.send(new PutObjectCommand({ Bucket: bucket, Key: 'probe', Body: 'first' }));
  const write = await refused(raw.send(new PutObjectCommand({ Bucket: bucket, Key: 'probe', Body: 'second', IfNoneMatch: '*' })));
  const copy = await refused(
    raw.send(new CopyObjectCommand({ Bucket: bucket, Key: 'probe', CopySource: `${bucket}/probe`, MetadataDirective: 'REPLACE', IfNoneMatch: '*' })),
  );
  await raw.send(new PutObjectCommand({ Bucket: bucket, Key: 'probe-delete', Body: 'x' }));
  const del = await refused(raw.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'probe-delete', IfMatch: '"00000000000000000000000000000000"' })));
  await raw.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'probe-delete' }));
  return { write, copy, delete: del };
}

/** A store in `mode`; the native mode is only meaningful for requests the server enforces conditions on. */
async function storeIn(mode: Exclude<ConditionalWriteMode, 'auto'>, ctx: TestContext, needs: 'write' | 'copy', extra = {}) {
  const created = await createTestStore({ ...extra, conditionalWrites: mode });
  // Reason: on a server that ignores If-None-Match / If-Match for this request (s3proxy 2.6.0 for
  // all, 4.1.0 for CopyObject), native mode overwrites by design; that is what the emulated mode
  // and the auto probe are for, and the auto test below checks the probe sees it.
  if (mode === 'native' && !(await serverEnforces(created.raw, created.bucket))[needs]) ctx.skip();
  return created;
}

describe('conditional writes against a real S3 server', () => {
  test('the auto mode probes the server once, chooses per request what it enforces and cleans up its probe', async () => {
    const { store, raw, bucket } = await createTestStore();
    const enforces = await serverEnforces(raw, bucket);
    if (!enforces.write) expect((await readAll((await store.get('probe')).body)).toString()).toBe('second'); // silently overwritten
    expect(await store.conditionalWriteSupport()).toEqual({
      write: enforces.write ? 'native' : 'emulated',
      copy: enforces.copy ? 'native' : 'emulated',
      delete: enforces.delete ? 'native' : 'emulated',
    });
    const { keys } = await bucketContents(raw, bucket);
    expect(keys.filter((k) => k.startsWith(CONDITIONAL_PROBE_PREFIX))).toEqual([]);
  });

  test('in auto mode every conditional request is enforced, whatever the server ignores', async () => {
    const { store } = await createTestStore();
    const a = await store.put('a', Buffer.from('a'), { ifNoneMatch: '*' });
    await expect(store.put('a', Buffer.from('again'), { ifNoneMatch: '*' })).rejects.toBeInstanceOf(PreconditionFailedError);
    await store.put('b', Buffer.from('b'));
    await expect(store.copy('a', 'b', { ifNoneMatch: '*' })).rejects.toBeInstanceOf(PreconditionFailedError);
    await expect(store.delete('a', { ifMatch: '"00000000000000000000000000000000"' })).rejects.toBeInstanceOf(PreconditionFailedError);
    expect((await store.head('a'))?.etag).toBe(a.etag);
  });

  describe.each(['emulated', 'native'] as const)('%s mode', (mode) => {
    test('If-None-Match: * refuses to overwrite an existing key and leaves it intact', async (ctx) => {
      const { store } = await storeIn(mode, ctx, 'write');
      const first = await store.put('k', Buffer.from('first'), { ifNoneMatch: '*' });
      await expect(store.put('k', Buffer.from('second'), { ifNoneMatch: '*' })).rejects.toBeInstanceOf(PreconditionFailedError);
      expect((await store.head('k'))?.etag).toBe(first.etag);
    });

    test('If-Match writes only over the expected ETag, and never creates the key', async (ctx) => {
      const { store } = await storeIn(mode, ctx, 'write');
      const first = await store.put('k', Buffer.from('first'));
      const second = await store.put('k', Buffer.from('second'), { ifMatch: first.etag });
      await expect(store.put('k', Buffer.from('third'), { ifMatch: first.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
      await expect(store.put('missing', Buffer.from('x'), { ifMatch: first.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
      expect((await store.head('k'))?.etag).toBe(second.etag);
      expect(await store.head('missing')).toBeUndefined();
    });

    test('a multipart put onto an existing key fails before any part is uploaded', async (ctx) => {
      const { store, raw, bucket } = await storeIn(mode, ctx, 'write', SMALL_PARTS);
      const first = await store.put('big', Buffer.from('small first version'));
      let pulled = 0;
      const source = chunked(body(12 * MiB)).on('data', (c: Buffer) => (pulled += c.byteLength));
      await expect(store.put('big', source, { ifNoneMatch: '*' })).rejects.toBeInstanceOf(PreconditionFailedError);
      expect(pulled).toBeLessThanOrEqual(11 * MiB); // the threshold and one part were read to choose multipart, no more
      expect((await store.head('big'))?.etag).toBe(first.etag);
      expect((await bucketContents(raw, bucket)).uploads).toEqual([]);
    });

    test('copy honours conditions on the destination', async (ctx) => {
      const { store } = await storeIn(mode, ctx, 'copy');
      const a = await store.put('a', Buffer.from('a'));
      const b = await store.put('b', Buffer.from('b'));
      await expect(store.copy('a', 'b', { ifNoneMatch: '*' })).rejects.toBeInstanceOf(PreconditionFailedError);
      await expect(store.copy('a', 'b', { ifMatch: a.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
      await expect(store.copy('a', 'b', { ifMatch: b.etag })).resolves.toMatchObject({ etag: a.etag });
      await expect(store.copy('a', 'c', { ifNoneMatch: '*' })).resolves.toMatchObject({ etag: a.etag });
    });
  });

  test('delete with If-Match removes only the expected version (emulated: HEAD, then delete)', async () => {
    const { store } = await createTestStore({ conditionalWrites: 'emulated' });
    const a = await store.put('k', Buffer.from('a'));
    const b = await store.put('k', Buffer.from('b'));
    await expect(store.delete('k', { ifMatch: a.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
    await store.delete('k', { ifMatch: b.etag });
    expect(await store.head('k')).toBeUndefined();
    await expect(store.delete('k', { ifMatch: b.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
  });
});
