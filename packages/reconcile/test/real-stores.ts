import { createHash } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Topology } from '@shardsync/config';
import { formatVersion, META, objectKeyOf, tombstoneKeyOf, type Version } from '@shardsync/events';
import { isS3ProxyArtifact, StorePool } from '@shardsync/objectstore';
import { createTestTopology, rawS3Client } from '@shardsync/testing';
import { onTestFinished } from 'vitest';

/** A fresh topology (own buckets) and a store pool over it, closed when the test ends. */
export async function realStores(): Promise<{ topology: Topology; dataset: string; pool: StorePool; bucketOf: (dc: string) => string }> {
  const topology = await createTestTopology();
  const dataset = topology.datasets[0]?.name ?? '';
  const pool = new StorePool(topology.datacenters);
  onTestFinished(() => pool.close());
  const bucketOf = (dc: string): string => topology.datacenters.find((d) => d.name === dc)?.s3.bucket ?? '';
  return { topology, dataset, pool, bucketOf };
}

export const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

/** Writes an object the consumer's way (through the store, with shardsync metadata) in each datacenter. */
export async function seed(pool: StorePool, dataset: string, key: string, body: Buffer, version: Version, datacenters: readonly string[]): Promise<void> {
  for (const dc of datacenters) {
    await pool.of(dc).put(objectKeyOf(dataset, key), body, {
      metadata: { [META.version]: formatVersion(version), [META.sha256]: sha256(body), [META.eventId]: `event-${key}-${formatVersion(version)}` },
      contentType: 'application/octet-stream',
    });
  }
}

/** Deletes a key the consumer's way (tombstone, then the object) in each datacenter. */
export async function seedDelete(pool: StorePool, dataset: string, key: string, version: Version, datacenters: readonly string[]): Promise<void> {
  for (const dc of datacenters) {
    const store = pool.of(dc);
    await store.put(tombstoneKeyOf(dataset, key), Buffer.alloc(0), {
      metadata: { [META.version]: formatVersion(version), [META.eventId]: `event-del-${key}`, [META.deletedAtMs]: String(Date.now()) },
    });
    await store.delete(objectKeyOf(dataset, key));
  }
}

/** Behind shardsync's back: a PUT straight to the S3 server. */
export async function rawPut(dc: string, bucket: string, key: string, body: Buffer, metadata?: Record<string, string>): Promise<void> {
  await rawS3Client(dc).send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: metadata }));
}

/** Behind shardsync's back: a DELETE straight to the S3 server. */
export async function rawDelete(dc: string, bucket: string, key: string): Promise<void> {
  await rawS3Client(dc).send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
}

/** Every key of a bucket with its ETag, shardsync version and the SHA-256 of its bytes, read with a raw client. */
export async function bucketState(dc: string, bucket: string): Promise<Record<string, { etag: string; version: string | undefined; sha256: string }>> {
  const s3 = rawS3Client(dc);
  const out: Record<string, { etag: string; version: string | undefined; sha256: string }> = {};
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      if (o.Key === undefined || o.ETag === undefined || isS3ProxyArtifact(o.Key) || o.Key.startsWith('.shardsync/probe/')) continue;
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: o.Key }));
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key }));
      const bytes = (await got.Body?.transformToByteArray()) ?? new Uint8Array();
      out[o.Key] = { etag: o.ETag, version: head.Metadata?.[META.version], sha256: sha256(bytes) };
    }
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return out;
}

/** {@link bucketState} of every datacenter of the topology. */
export async function everything(topology: Topology): Promise<Record<string, Awaited<ReturnType<typeof bucketState>>>> {
  const out: Record<string, Awaited<ReturnType<typeof bucketState>>> = {};
  for (const dc of topology.datacenters) out[dc.name] = await bucketState(dc.name, dc.s3.bucket);
  return out;
}
