import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { inject, onTestFinished } from 'vitest';
import { S3ObjectStore, type ObjectStoreOptions } from '../src/index.js';

/**
 * The S3 server the integration tests talk to: SHARDSYNC_TEST_S3_ENDPOINT if set (e.g. a
 * hand-started s3proxy), else the first datacenter of the stack the integration project's global
 * setup provides, else http://127.0.0.1:19101. (`@shardsync/testing` would give the same through
 * `createTestBucket(datacenter)`; this package does not depend on it.)
 */
export function testS3Server(): { endpoint: string; region: string } {
  const fromEnv = process.env['SHARDSYNC_TEST_S3_ENDPOINT'];
  if (fromEnv !== undefined && fromEnv !== '') return { endpoint: fromEnv, region: 'us-east-1' };
  // `inject` is typed by the ProvidedContext that @shardsync/testing declares; read it untyped.
  const stack = (inject as (key: string) => unknown)('stack') as { datacenters?: Array<{ endpoint: string; region: string }> } | undefined;
  const dc = stack?.datacenters?.[0];
  if (dc !== undefined) return { endpoint: dc.endpoint, region: dc.region };
  return { endpoint: 'http://127.0.0.1:19101', region: 'us-east-1' };
}

/** A raw SDK client, to look at or damage the bucket behind the store's back. */
export function rawClient(): S3Client {
  const { endpoint, region } = testS3Server();
  const client = new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId: 'shardsync-local', secretAccessKey: 'shardsync-local-unchecked' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  onTestFinished(() => client.destroy());
  return client;
}

/** Keys (without s3proxy's directory entries) and incomplete multipart uploads in a bucket. */
export async function bucketContents(client: S3Client, bucket: string): Promise<{ keys: string[]; uploads: string[] }> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    // s3proxy's filesystem backend lists directories as ETag-less `dir/` entries; they vanish
    // with their last file, and deleting one that is not empty hangs for 10 s.
    for (const o of page.Contents ?? []) if (o.Key !== undefined && o.ETag !== undefined) keys.push(o.Key);
    token = page.NextContinuationToken;
  } while (token !== undefined);
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return { keys, uploads: (uploads.Uploads ?? []).map((u) => u.Key ?? '?') };
}

/** Creates a uniquely named bucket, emptied and deleted when the test ends. */
export async function createTestBucket(): Promise<{ bucket: string; endpoint: string; region: string; raw: S3Client }> {
  const raw = rawClient();
  const bucket = `objstore-${randomUUID().slice(0, 18)}`;
  await raw.send(new CreateBucketCommand({ Bucket: bucket }));
  onTestFinished(async () => {
    const uploads = await raw.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    for (const u of uploads.Uploads ?? []) await raw.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
    for (const key of (await bucketContents(raw, bucket)).keys) await raw.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    await raw.send(new DeleteBucketCommand({ Bucket: bucket }));
  });
  return { ...testS3Server(), bucket, raw };
}

/** An S3ObjectStore on a fresh bucket, closed when the test ends. */
export async function createTestStore(options: ObjectStoreOptions = {}): Promise<{ store: S3ObjectStore; raw: S3Client; bucket: string }> {
  const { bucket, endpoint, region, raw } = await createTestBucket();
  const store = new S3ObjectStore({ datacenter: 'test', endpoint, region, bucket, credentials: { type: 'none' } }, options);
  onTestFinished(() => store.close());
  return { store, raw, bucket };
}

const MiB = 1024 * 1024;

/** Small thresholds so multipart paths run with a few MiB: single PUT up to 5 MiB, 5 MiB parts. */
export const SMALL_PARTS: ObjectStoreOptions = { singlePutMaxBytes: 5 * MiB, partSizeBytes: 5 * MiB, partConcurrency: 2 };

/** Random bytes of a given length. */
export function body(bytes: number): Buffer {
  return randomBytes(bytes);
}

/** Streams `data` in chunks of `chunkBytes`, like a socket would, with an unknown total size. */
export function chunked(data: Buffer, chunkBytes = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < data.byteLength; i += chunkBytes) yield data.subarray(i, i + chunkBytes);
    })(),
    { objectMode: false },
  );
}

/** Reads a stream to the end. */
export async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** Polls `check` until it holds (every 20 ms, for at most `timeoutMs`), for states with no event to await. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition did not hold within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
