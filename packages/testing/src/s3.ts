import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  ListMultipartUploadsCommand,
  AbortMultipartUploadCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { onTestFinished } from 'vitest';
import { uniqueName } from './names.js';
import { stackDatacenter } from './stack-info.js';

/**
 * A raw SDK client for a datacenter's S3 server: tests use it to inspect or damage a store
 * behind shardsync's back. Checksums only when required: third-party servers reject the SDK's
 * default CRC32 trailers.
 */
export function rawS3Client(datacenter: string): S3Client {
  const dc = stackDatacenter(datacenter);
  const client = new S3Client({
    endpoint: dc.endpoint,
    region: dc.region,
    forcePathStyle: true,
    credentials: { accessKeyId: 'shardsync-local', secretAccessKey: 'shardsync-local-unchecked' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  onTestFinished(() => client.destroy());
  return client;
}

/** Deletes every object and pending multipart upload, then the bucket itself. */
export async function emptyAndDeleteBucket(client: S3Client, bucket: string): Promise<void> {
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ Key: o.Key }]));
    if (keys.length > 0) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    token = page.NextContinuationToken;
  } while (token !== undefined);
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  for (const u of uploads.Uploads ?? []) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}

export interface TestBucket {
  datacenter: string;
  bucket: string;
  endpoint: string;
  region: string;
}

/** Creates a bucket with a unique name on a datacenter's S3 server, removed when the test ends. */
export async function createTestBucket(datacenter: string, prefix = 'test'): Promise<TestBucket> {
  const dc = stackDatacenter(datacenter);
  const client = rawS3Client(datacenter);
  const bucket = uniqueName(`${prefix}-${datacenter}`);
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  onTestFinished(() => emptyAndDeleteBucket(client, bucket));
  return { datacenter, bucket, endpoint: dc.endpoint, region: dc.region };
}
