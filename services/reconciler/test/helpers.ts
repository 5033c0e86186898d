import { createHash, randomBytes } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Topology } from '@shardsync/config';
import { formatVersion, META, objectKeyOf, type Version } from '@shardsync/events';
import { isS3ProxyArtifact, StorePool } from '@shardsync/objectstore';
import { lastPassSummary, type PassReport } from '@shardsync/reconcile';
import { createLogger } from '@shardsync/runtime';
import { createTestTopology, rawS3Client, stackInfo, uniqueName, waitFor } from '@shardsync/testing';
import { Redis } from 'ioredis';
import { onTestFinished } from 'vitest';
import { reconcilerEnvSchema } from '../src/env.js';
import { ReconcilerService } from '../src/service.js';

export const DCS = ['dc-a', 'dc-b', 'dc-c'];
export const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');
export const v = (ms: number): Version => ({ physicalMs: ms, logical: 0, producerId: 'producer-test' });

/** A Redis key prefix of its own, whose keys are deleted when the test ends (never FLUSHALL: the Redis is shared). */
export function testPrefix(): string {
  const prefix = uniqueName('rec').replace(/-/g, '_');
  onTestFinished(async () => {
    const redis = new Redis(stackInfo().redis.url, { maxRetriesPerRequest: null });
    try {
      await deleteKeys(redis, prefix);
    } finally {
      redis.disconnect();
    }
  });
  return prefix;
}

/** Deletes every key under a prefix: what a Redis that lost its data looks like to this deployment. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 500 }) as AsyncIterable<string[]>) {
    if (keys.length > 0) deleted += await redis.del(...keys);
  }
  return deleted;
}

/** Starts a reconciler in this process with test-friendly settings, closed when the test ends. */
export async function startReconciler(topology: Topology, prefix: string, overrides: Record<string, string> = {}): Promise<ReconcilerService> {
  const env = reconcilerEnvSchema.parse({
    SHARDSYNC_RECONCILER_PORT: '0',
    SHARDSYNC_RECONCILER_REDIS_PREFIX: prefix,
    SHARDSYNC_RECONCILER_INTERVAL_MS: String(3600_000),
    SHARDSYNC_RECONCILER_REPAIR_BACKOFF_MS: '200',
    SHARDSYNC_SHUTDOWN_GRACE_MS: '10000',
    ...overrides,
  });
  const service = await ReconcilerService.start({ topology, env, logger: createLogger('reconciler-test', {}, 'warn') });
  onTestFinished(() => service.close());
  return service;
}

/** A store pool over the test topology, to seed datacenters the way the consumer writes. */
export function testPool(topology: Topology): StorePool {
  const pool = new StorePool(topology.datacenters);
  onTestFinished(() => pool.close());
  return pool;
}

export async function seed(pool: StorePool, dataset: string, key: string, body: Buffer, version: Version, datacenters: readonly string[] = DCS): Promise<void> {
  for (const dc of datacenters) {
    await pool.of(dc).put(objectKeyOf(dataset, key), body, {
      metadata: { [META.version]: formatVersion(version), [META.sha256]: sha256(body), [META.eventId]: `event-${key}` },
    });
  }
}

export function bucketOf(topology: Topology, dc: string): string {
  return topology.datacenters.find((d) => d.name === dc)?.s3.bucket ?? '';
}

export async function rawDelete(topology: Topology, dc: string, key: string): Promise<void> {
  await rawS3Client(dc).send(new DeleteObjectCommand({ Bucket: bucketOf(topology, dc), Key: key }));
}

export async function rawPut(topology: Topology, dc: string, key: string, body: Buffer, metadata?: Record<string, string>): Promise<void> {
  await rawS3Client(dc).send(new PutObjectCommand({ Bucket: bucketOf(topology, dc), Key: key, Body: body, Metadata: metadata }));
}

/** The dataset's object keys (without the dataset prefix) one datacenter lists: one cheap listing, no reads. */
export async function datasetKeys(topology: Topology, dc: string, dataset: string): Promise<string[]> {
  const s3 = rawS3Client(dc);
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucketOf(topology, dc), Prefix: `${dataset}/`, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      if (o.Key !== undefined && !isS3ProxyArtifact(o.Key)) keys.push(o.Key.slice(dataset.length + 1));
    }
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return keys;
}

/** Dataset objects of one datacenter: key -> "<version> <sha256 of the bytes>", and whether each one's bytes match its own recorded SHA-256. */
export async function datasetContents(topology: Topology, dc: string, dataset: string): Promise<{ objects: Record<string, string>; intact: boolean }> {
  const s3 = rawS3Client(dc);
  const bucket = bucketOf(topology, dc);
  const objects: Record<string, string> = {};
  let intact = true;
  for (const key of await datasetKeys(topology, dc, dataset)) {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `${dataset}/${key}` }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${dataset}/${key}` }));
    const digest = sha256((await got.Body?.transformToByteArray()) ?? new Uint8Array());
    if (head.Metadata?.[META.sha256] !== undefined && head.Metadata[META.sha256] !== digest) intact = false;
    objects[key] = `${head.Metadata?.[META.version] ?? '(none)'} ${digest}`;
  }
  return { objects, intact };
}

/** Waits for a pass report of `dataset` other than the ones already seen, that satisfies `accept`. */
export async function nextReport(redis: Redis, prefix: string, dataset: string, seen: ReadonlySet<string>, accept: (r: PassReport) => boolean = () => true, timeoutMs = 60_000): Promise<PassReport> {
  return waitFor(
    async () => {
      const last = await lastPassSummary(redis, dataset, { keyPrefix: `${prefix}:reconcile-history` });
      return last !== undefined && !seen.has(last.passId) && accept(last) ? last : undefined;
    },
    { timeoutMs, intervalMs: 200, what: `a new pass report of ${dataset}` },
  );
}

/**
 * A dataset of 4 objects of 1 MiB in every datacenter and a reconciler whose deep passes read
 * them (12 MiB) at 256 KiB/s: a deep pass runs for about 48 s, far longer than its shutdown's
 * cut (1 s into a 2 s grace). For tests of what happens while a pass runs.
 */
export async function slowDeepPassSetup(): Promise<{ topology: Topology; dataset: string; prefix: string; service: ReconcilerService }> {
  const topology = await createTestTopology();
  const dataset = topology.datasets[0]?.name ?? '';
  const prefix = testPrefix();
  const pool = testPool(topology);
  for (let i = 0; i < 4; i++) await seed(pool, dataset, `shard-${i}`, randomBytes(1024 * 1024), v(100 + i));
  const service = await startReconciler(topology, prefix, {
    SHARDSYNC_RECONCILER_SCHEDULE: 'false',
    SHARDSYNC_RECONCILER_DEEP_BYTES_PER_SECOND: String(256 * 1024),
    SHARDSYNC_SHUTDOWN_GRACE_MS: '2000',
  });
  return { topology, dataset, prefix, service };
}
