import { createHash } from 'node:crypto';
import { Agent } from 'node:http';
import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { isS3ProxyArtifact } from '@shardsync/objectstore';

/** A datacenter's S3 endpoint as the topology gives it. */
export interface StoreAddress {
  readonly name: string;
  readonly s3: { readonly endpoint: string; readonly region: string; readonly bucket: string };
}

/**
 * A plain SDK client for one datacenter's S3 server, outside shardsync's code: the demo checks
 * and damages the stores with it, the bench measures raw baselines with it. Keep-alive sockets,
 * checksums only when required (as shardsync's own client). The SDK's own retry (3 attempts)
 * covers the keep-alive race where the server closes an idle socket just as it is reused
 * ("socket hang up"); a slow request is never retried, so it still counts as slow.
 */
export function rawS3Client(dc: StoreAddress, maxSockets = 64): S3Client {
  return new S3Client({
    endpoint: dc.s3.endpoint,
    region: dc.s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: 'shardsync-local', secretAccessKey: 'shardsync-local-unchecked' },
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets }), connectionTimeout: 5_000, requestTimeout: 300_000 }),
    maxAttempts: 3,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export interface ListedObject {
  readonly key: string;
  readonly size: number;
  readonly etag: string;
}

/** Every object under a prefix, page by page, without s3proxy's temporary upload files. */
export async function* listObjects(client: S3Client, bucket: string, prefix: string): AsyncIterable<ListedObject> {
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      if (o.Key === undefined || isS3ProxyArtifact(o.Key)) continue;
      yield { key: o.Key, size: o.Size ?? 0, etag: o.ETag ?? '' };
    }
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
}

/** Reads an object to the end and returns the SHA-256 of its bytes (hex). */
export async function sha256OfObject(client: S3Client, bucket: string, key: string): Promise<string> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash('sha256');
  for await (const chunk of res.Body as Readable) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function deleteObject(client: S3Client, bucket: string, key: string): Promise<void> {
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
}

/** Runs `fn` over `items` with at most `concurrency` at once; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}
