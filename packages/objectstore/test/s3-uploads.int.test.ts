import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCommand, type S3Client } from '@aws-sdk/client-s3';
import { describe, expect, test } from 'vitest';
import { InvalidArgumentError, type UploadEntry } from '../src/index.js';
import { body, bucketContents, createTestStore } from './helpers.js';

/** Begins a multipart upload and stores one part, as a producer killed mid-upload leaves it. */
async function abandonedUpload(raw: S3Client, bucket: string, key: string): Promise<string> {
  const created = await raw.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const uploadId = created.UploadId ?? '';
  await raw.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: 1, Body: body(64 * 1024) }));
  return uploadId;
}

async function collect(iterable: AsyncIterable<UploadEntry>): Promise<UploadEntry[]> {
  const out: UploadEntry[] = [];
  for await (const u of iterable) out.push(u);
  return out;
}

describe('incomplete multipart uploads on a real S3 server', () => {
  test('an abandoned upload is listed under its prefix with its initiation time, and aborting it frees it', async () => {
    const { store, raw, bucket } = await createTestStore();
    const before = Date.now();
    const staged = await abandonedUpload(raw, bucket, '.shardsync/staging/events/ev-1');
    const other = await abandonedUpload(raw, bucket, 'models/big');

    const listed = await collect(store.listUploads({ prefix: '.shardsync/staging/' }));
    expect(listed).toEqual([{ key: '.shardsync/staging/events/ev-1', uploadId: staged, initiatedMs: expect.any(Number) as number }]);
    // The server's clock, to the second at best: within a few seconds of ours.
    expect(Math.abs((listed[0]?.initiatedMs ?? 0) - before)).toBeLessThan(10_000);

    expect(await store.abortUpload('.shardsync/staging/events/ev-1', staged)).toBe(true);
    expect(await collect(store.listUploads({ prefix: '.shardsync/staging/' }))).toEqual([]);
    expect((await bucketContents(raw, bucket)).uploads).toEqual(['models/big']);
    expect((await collect(store.listUploads())).map((u) => u.uploadId)).toEqual([other]);
  });

  test('an upload that is already gone (aborted or completed since the listing) is reported as not aborted, not as an error', async () => {
    const { store, raw, bucket } = await createTestStore();
    const aborted = await abandonedUpload(raw, bucket, '.shardsync/staging/events/twice');
    expect(await store.abortUpload('.shardsync/staging/events/twice', aborted)).toBe(true);
    expect(await store.abortUpload('.shardsync/staging/events/twice', aborted)).toBe(false);

    const key = '.shardsync/staging/events/completed';
    const completed = await abandonedUpload(raw, bucket, key);
    const parts = await raw.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: completed, PartNumber: 1, Body: Buffer.from('whole body') }));
    await raw.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: completed, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: parts.ETag }] } }));
    expect(await store.abortUpload(key, completed)).toBe(false);
    expect(await store.head(key)).toMatchObject({ size: 'whole body'.length });
    await expect(store.abortUpload(key, '')).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  test('the listing pages through uploads with key and upload-id markers, several uploads of one key included', async () => {
    const { store, raw, bucket } = await createTestStore();
    const ids = new Set<string>();
    for (const key of ['.shardsync/staging/a', '.shardsync/staging/b', '.shardsync/staging/b', '.shardsync/staging/c', '.shardsync/staging/d']) {
      ids.add(await abandonedUpload(raw, bucket, key));
    }
    const listed = await collect(store.listUploads({ prefix: '.shardsync/staging/', pageSize: 2 }));
    expect(listed.map((u) => u.key)).toEqual(['.shardsync/staging/a', '.shardsync/staging/b', '.shardsync/staging/b', '.shardsync/staging/c', '.shardsync/staging/d']);
    expect(new Set(listed.map((u) => u.uploadId))).toEqual(ids);
  });
});
