import { createHash, randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { createTestBucket, rawS3Client, stackInfo } from '@shardsync/testing';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

describe('S3 smoke test', () => {
  for (const name of ['dc-a', 'dc-b', 'dc-c']) {
    it(`${name}'s S3 server round-trips an object with user metadata, lists, deletes and completes a multipart upload`, async () => {
      expect(stackInfo().datacenters.map((d) => d.name)).toContain(name);
      const { bucket } = await createTestBucket(name);
      const s3 = rawS3Client(name);
      const body = randomBytes(1000);
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'ds/a.bin', Body: body, Metadata: { 'shardsync-version': '0001.0000000001.p1' } }));
      expect(put.ETag).toBe(`"${md5(body)}"`);

      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'ds/a.bin' }));
      expect(head.ContentLength).toBe(1000);
      expect(head.Metadata).toEqual({ 'shardsync-version': '0001.0000000001.p1' });

      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'ds/a.bin' }));
      expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(body);

      const part1 = randomBytes(5 * 1024 * 1024);
      const part2 = randomBytes(1234);
      const mpu = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'ds/big.bin' }));
      const etags = [];
      for (const [i, part] of [part1, part2].entries()) {
        const r = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'ds/big.bin', UploadId: mpu.UploadId, PartNumber: i + 1, Body: part }));
        etags.push({ ETag: r.ETag, PartNumber: i + 1 });
      }
      await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'ds/big.bin', UploadId: mpu.UploadId, MultipartUpload: { Parts: etags } }));
      const bigHead = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'ds/big.bin' }));
      expect(bigHead.ContentLength).toBe(part1.length + part2.length);

      const list = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'ds/' }));
      expect((list.Contents ?? []).map((o) => o.Key).filter((k) => k === 'ds/a.bin' || k === 'ds/big.bin').sort()).toEqual(['ds/a.bin', 'ds/big.bin']);

      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'ds/a.bin' }));
      await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'ds/a.bin' }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    });
  }
});
