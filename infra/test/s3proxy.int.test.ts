import { createHash } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { stackUp } from '../src/index.js';
import { datacenter, s3For, stackOptions, uniqueName } from './helpers.js';

// What the object store code relies on from the local s3proxy (S3PROXY_NOTES.md), checked
// against the pinned version with the SDK's default settings.

const status = (error: unknown): number | undefined => (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
const md5 = (data: Buffer) => createHash('md5').update(data).digest();

describe('s3proxy as the local S3 of a datacenter', () => {
  beforeAll(async () => {
    await stackUp(stackOptions);
  });
  /** A client of dc-a, its bucket, and a key prefix of this test's own. */
  const setup = (): { s3: S3Client; Bucket: string; prefix: string } => {
    const dc = datacenter('dc-a');
    return { s3: s3For(dc), Bucket: dc.s3.bucket, prefix: uniqueName('s3proxy') };
  };

  it('PutObject with If-None-Match: * creates a new key and refuses an existing one with 412', async () => {
    const { s3, Bucket, prefix } = setup();
    const Key = `${prefix}/k`;
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.from('first'), IfNoneMatch: '*' }));
    const second = await s3.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.from('second'), IfNoneMatch: '*' })).catch((e: unknown) => e);
    expect(status(second)).toBe(412);
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key }))).ContentLength).toBe(5);
  });

  it('of concurrent If-None-Match: * writers to one new key exactly one wins', async () => {
    const { s3, Bucket, prefix } = setup();
    const Key = `${prefix}/race`;
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => s3.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.alloc(64 * 1024, i), IfNoneMatch: '*' }))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.flatMap((r) => (r.status === 'rejected' ? [status(r.reason)] : []))).toEqual(Array(7).fill(412));
  });

  it('PutObject with If-Match replaces only the version whose ETag it names', async () => {
    const { s3, Bucket, prefix } = setup();
    const Key = `${prefix}/cas`;
    const { ETag } = await s3.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.from('v1') }));
    const stale = await s3.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.from('v2'), IfMatch: '"00000000000000000000000000000000"' })).catch((e: unknown) => e);
    expect(status(stale)).toBe(412);
    await expect(s3.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.from('v2'), IfMatch: ETag }))).resolves.toBeDefined();
  });

  it('keeps user metadata and gives multipart objects an md5-of-part-md5s "-N" ETag, the same in HEAD and LIST', async () => {
    const { s3, Bucket, prefix } = setup();
    const Key = `${prefix}/multi`;
    const parts = [Buffer.alloc(5 * 1024 * 1024, 7), Buffer.from('tail')];
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, Metadata: { 'shardsync-version': '9' } }));
    const etags: string[] = [];
    for (const [i, Body] of parts.entries()) {
      etags.push((await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body }))).ETag!);
    }
    const done = await s3.send(
      new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }),
    );
    const expected = `"${createHash('md5').update(Buffer.concat(parts.map(md5))).digest('hex')}-2"`;
    expect(done.ETag).toBe(expected);
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key }));
    expect(head.ETag).toBe(expected);
    expect(head.Metadata).toEqual({ 'shardsync-version': '9' });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: `${prefix}/` }));
    expect(listed.Contents?.map((c) => c.ETag)).toEqual([expected]);
  });

  it('lists only objects, never the directories that hold them, and pages with continuation tokens', async () => {
    const { s3, Bucket, prefix } = setup();
    const keys = [`${prefix}/.shardsync/tombstones/ds/a b/x.bin`, `${prefix}/d/1`, `${prefix}/d/2`, `${prefix}/d/3`];
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.from(Key) }));
    const seen: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: `${prefix}/`, MaxKeys: 2, ContinuationToken }));
      seen.push(...(page.Contents ?? []).map((c) => c.Key!));
      ContinuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (ContinuationToken !== undefined);
    expect(seen).toEqual([...keys].sort());
  });

  it('accepts DeleteObjects with the checksum header the SDK always sends for it', async () => {
    const { s3, Bucket, prefix } = setup();
    await s3.send(new PutObjectCommand({ Bucket, Key: `${prefix}/gone`, Body: Buffer.from('x') }));
    const result = await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: `${prefix}/gone` }, { Key: `${prefix}/never-was` }] } }));
    expect(result.Errors ?? []).toEqual([]);
    expect((await s3.send(new ListObjectsV2Command({ Bucket, Prefix: `${prefix}/` }))).KeyCount).toBe(0);
  });
});
