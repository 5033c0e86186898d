import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Topology } from '@shardsync/config';
import { formatVersion, META, objectKeyOf, tombstoneKeyOf, type Version } from '@shardsync/events';
import { passHistoryKey } from '@shardsync/reconcile';
import { createLogger } from '@shardsync/runtime';
import { corruptObjectOnDisk, createTestTopology, emptyAndDeleteBucket, rawS3Client, readTopic, stackInfo, stopStackServer, uniqueName, waitFor } from '@shardsync/testing';
import { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { stringify } from 'yaml';
import { consumerEnvSchema } from '../services/consumer/src/env.js';
import { ConsumerService } from '../services/consumer/src/service.js';
import { makeUpdate, produceRaw, sha256, storeContents } from '../services/consumer/test/helpers.js';
import { commandEnv, parseRunbook, runRunbook, runShell, RUNBOOK_DIR, type CommandRun, type RunOptions } from './runbooks-harness.js';

// Each test creates the situation a runbook is about on the local stack, runs the runbook's
// commands exactly as written (test/runbooks-harness.ts), then checks that every datacenter holds
// the same bytes. The runbooks' format: docs/runbooks/README.md. RUNBOOK_TRANSCRIPT=1 prints every
// command with its output, and the consumers' warnings.

const DCS = ['dc-a', 'dc-b', 'dc-c'] as const;
const VERBOSE = process.env['RUNBOOK_TRANSCRIPT'] !== undefined;
/** Generous: a runbook waits for Kafka to come back or consumers to catch up ("retry up to 2 min"). */
const TIMEOUT_MS = 240_000;

const v = (physicalMs: number, logical = 0): Version => ({ physicalMs, logical, producerId: 'runbook-test' });

function transcript(run: CommandRun): void {
  if (!VERBOSE) return;
  process.stderr.write(`\n$ ${run.command}\n[exit ${String(run.code)}, ${run.attempts} attempt(s), ${run.ms} ms]\n${run.stdout}${run.stderr}`);
}

/** Runs a runbook of docs/runbooks/ against the situation a test created. */
function follow(file: string, options: Omit<RunOptions, 'onCommand'>): Promise<CommandRun[]> {
  return runRunbook(parseRunbook(join(RUNBOOK_DIR, file)), { ...options, onCommand: transcript });
}

/** A consumer of one datacenter in this process (as `startTestConsumer`, quieter: some runbooks stop Kafka under it). */
async function startConsumer(topology: Topology, datacenter: string): Promise<ConsumerService & { fatal: string[] }> {
  const env = consumerEnvSchema.parse({ SHARDSYNC_DATACENTER: datacenter, SHARDSYNC_CONSUMER_PORT: '0', SHARDSYNC_SOURCE_WAIT_MS: '5000' });
  const fatal: string[] = [];
  const logger = createLogger('runbook-consumer', { datacenter }, VERBOSE ? 'warn' : 'fatal');
  const service = await ConsumerService.start({ topology, env, logger, onFatal: (reason) => fatal.push(reason) });
  onTestFinished(() => service.close());
  return Object.assign(service, { fatal });
}

/**
 * What every situation starts from: a test topology of its own (topics, buckets, datasets),
 * written to a file for `SHARDSYNC_TOPOLOGY`; a pass history of its own in Redis (the stack's
 * Redis may be shared), deleted afterwards; and consumers it can start and stop per datacenter.
 */
async function situation(options: { datasets?: number } = {}) {
  const base = await createTestTopology();
  const first = base.datasets[0]?.name ?? 'ds';
  const extra = Array.from({ length: (options.datasets ?? 1) - 1 }, (_, i) => ({ name: `${first}-${i + 2}`, datacenters: [...DCS] }));
  const topology: Topology = { ...base, datasets: [...base.datasets, ...extra] };
  const file = join(mkdtempSync(join(tmpdir(), 'shardsync-runbook-')), 'topology.yaml');
  writeFileSync(file, stringify(topology));

  const redisPrefix = uniqueName('runbook');
  onTestFinished(async () => {
    const redis = new Redis(stackInfo().redis.url);
    try {
      await redis.del(...topology.datasets.map((d) => passHistoryKey(d.name, { keyPrefix: `${redisPrefix}:reconcile-history` })));
    } finally {
      await redis.quit();
    }
  });

  const consumers = new Map<string, ConsumerService & { fatal: string[] }>();
  return {
    topology,
    file,
    /** What the runbook's commands get besides its variables. */
    env: { SHARDSYNC_RECONCILER_REDIS_PREFIX: redisPrefix },
    consumers,
    /** Starts (or restarts) a datacenter's consumer, with the given topology (default: the situation's). */
    async startConsumer(dc: string, with_: Topology = topology): Promise<void> {
      await consumers.get(dc)?.close();
      consumers.set(dc, await startConsumer(with_, dc));
    },
    async stopConsumer(dc: string): Promise<void> {
      await consumers.get(dc)?.close();
      consumers.delete(dc);
    },
    bucketOf: (dc: string) => topology.datacenters.find((d) => d.name === dc)?.s3.bucket ?? '',
  };
}

const sorted = (o: Record<string, string>) => JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1))));

/** Every datacenter holds exactly `expected` (key -> SHA-256 of the body) for the dataset, read back byte by byte. */
async function expectConverged(topology: Topology, dataset: string, expected: Record<string, string>, timeoutMs = 30_000): Promise<void> {
  for (const dc of DCS) {
    await waitFor(async () => (sorted(await storeContents(topology, dc, dataset)) === sorted(expected) ? true : undefined), {
      timeoutMs,
      intervalMs: 250,
      what: `${dc} to hold exactly ${sorted(expected)} in ${dataset}`,
    });
  }
  const contents = await Promise.all(DCS.map((dc) => storeContents(topology, dc, dataset)));
  for (const c of contents) expect(c).toEqual(expected);
}

/** Puts an object straight into a datacenter's bucket, behind shardsync's back. */
async function putByHand(dc: string, bucket: string, key: string, body: string, metadata?: Record<string, string>): Promise<void> {
  await rawS3Client(dc).send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: metadata }));
}

/** The metadata the consumer writes with a put, for a copy forged by hand. */
function managedMetadata(version: Version, body: string): Record<string, string> {
  return { [META.version]: formatVersion(version), [META.sha256]: sha256(body), [META.eventId]: randomUUID() };
}

const COVERED = ['divergence-found.md', 'datacenter-lost.md', 'dead-letters-growing.md', 'kafka-unavailable.md'];

describe('runbooks', () => {
  it('divergence found: every kind of divergence is diagnosed and repaired by the commands of the runbook', async () => {
    const s = await situation();
    const dataset = s.topology.datasets[0]?.name ?? '';
    const shard = (n: number) => `weights/shard-000${n}.bin`;
    const body = (n: number) => `body of shard ${n}`;
    const t = Date.now() - 60_000;

    // Replicated the normal way: six shards through Kafka and the consumers, then one deleted.
    await Promise.all(DCS.map((dc) => s.startConsumer(dc)));
    await produceRaw(s.topology, [1, 2, 3, 4, 5, 6].map((n) => makeUpdate(dataset, shard(n), v(t + n), body(n))));
    await produceRaw(s.topology, [makeUpdate(dataset, shard(4), v(t + 100), null)]);
    const healthy = Object.fromEntries([1, 2, 3, 5, 6].map((n) => [shard(n), sha256(body(n))]));
    await expectConverged(s.topology, dataset, healthy);
    await Promise.all(DCS.map((dc) => s.stopConsumer(dc)));

    // Then damaged behind shardsync's back.
        await rawS3Client('dc-b').send(new DeleteObjectCommand({ Bucket: s.bucketOf('dc-b'), Key: objectKeyOf(dataset, shard(1)) })); // missing
    await putByHand('dc-c', s.bucketOf('dc-c'), objectKeyOf(dataset, shard(2)), 'an older body', managedMetadata(v(t - 1000), 'an older body')); // stale
    await corruptObjectOnDisk('dc-a', s.bucketOf('dc-a'), objectKeyOf(dataset, shard(3))); // bit rot
    await rawS3Client('dc-c').send(new DeleteObjectCommand({ Bucket: s.bucketOf('dc-c'), Key: tombstoneKeyOf(dataset, shard(4)) })); // a missed delete
    await putByHand('dc-c', s.bucketOf('dc-c'), objectKeyOf(dataset, shard(4)), body(4), managedMetadata(v(t + 4), body(4)));
    await putByHand('dc-b', s.bucketOf('dc-b'), objectKeyOf(dataset, shard(5)), 'edited by hand'); // overwritten without metadata
    await putByHand('dc-c', s.bucketOf('dc-c'), objectKeyOf(dataset, 'imports/extra.bin'), 'imported by hand'); // unmanaged, to keep
    await putByHand('dc-a', s.bucketOf('dc-a'), objectKeyOf(dataset, 'tmp/debug.bin'), 'debris'); // unmanaged, to remove

    // The scheduled pass (here: a dry run, as a reconciler with SHARDSYNC_RECONCILER_DRY_RUN=true
    // runs it) recorded the divergence it found: that is what `status` reports.
    const scheduled = await runShell(`shardsync reconcile --dataset ${dataset} --dry-run`, commandEnv({ ...s.env, SHARDSYNC_TOPOLOGY: s.file }));
    expect(scheduled.code, scheduled.stderr).toBe(1);
    // The consumers run again, as they would in production while an operator follows the runbook.
    await Promise.all(DCS.map((dc) => s.startConsumer(dc)));

    await follow('divergence-found.md', {
      variables: { SHARDSYNC_TOPOLOGY: s.file, DATASET: dataset, KEY: shard(2), ADOPT_KEY: 'imports/extra.bin', REMOVE_KEY: 'tmp/debug.bin' },
      env: s.env,
      hooks: {},
    });

    await expectConverged(s.topology, dataset, { ...healthy, 'imports/extra.bin': sha256('imported by hand') }, 5000);
  }, TIMEOUT_MS);

  it('a datacenter lost and rebuilt: its bucket is recreated, filled from its peers, and its consumers catch up', async () => {
    const s = await situation({ datasets: 2 });
    const [d1, d2] = s.topology.datasets.map((d) => d.name) as [string, string];
    const t = Date.now() - 60_000;

    await Promise.all(DCS.map((dc) => s.startConsumer(dc)));
    await produceRaw(s.topology, [
      ...[1, 2, 3, 4].map((n) => makeUpdate(d1, `ckpt/step-${n}.bin`, v(t + n), `checkpoint ${n}`)),
      ...[1, 2].map((n) => makeUpdate(d2, `part-${n}.parquet`, v(t + 10 + n), `rows ${n}`)),
      makeUpdate(d1, 'ckpt/step-2.bin', v(t + 20), 'checkpoint 2, rewritten'),
      makeUpdate(d1, 'ckpt/step-3.bin', v(t + 21), null),
    ]);
    const before1 = { 'ckpt/step-1.bin': sha256('checkpoint 1'), 'ckpt/step-2.bin': sha256('checkpoint 2, rewritten'), 'ckpt/step-4.bin': sha256('checkpoint 4') };
    const before2 = { 'part-1.parquet': sha256('rows 1'), 'part-2.parquet': sha256('rows 2') };
    await expectConverged(s.topology, d1, before1);
    await expectConverged(s.topology, d2, before2);

    // dc-c's store is lost: the bucket and everything in it. Its consumer still runs; updates keep coming.
    await emptyAndDeleteBucket(rawS3Client('dc-c'), s.bucketOf('dc-c'));
    await produceRaw(s.topology, [makeUpdate(d1, 'ckpt/step-5.bin', v(t + 30), 'checkpoint 5'), makeUpdate(d2, 'part-1.parquet', v(t + 31), null)]);
    const after1 = { ...before1, 'ckpt/step-5.bin': sha256('checkpoint 5') };
    const after2 = { 'part-2.parquet': sha256('rows 2') };
    for (const dc of ['dc-a', 'dc-b']) {
      await waitFor(async () => (sorted(await storeContents(s.topology, dc, d1)) === sorted(after1) && sorted(await storeContents(s.topology, dc, d2)) === sorted(after2) ? true : undefined), {
        what: `${dc} to apply the updates that came after the loss`,
      });
    }

    await follow('datacenter-lost.md', {
      variables: { SHARDSYNC_TOPOLOGY: s.file, DATACENTER: 'dc-c' },
      env: s.env,
      hooks: {
        'stop-consumers': () => s.stopConsumer('dc-c'),
        'start-consumers': () => s.startConsumer('dc-c'),
      },
    });

    await expectConverged(s.topology, d1, after1, 5000);
    await expectConverged(s.topology, d2, after2, 5000);
    // While its bucket was missing, dc-c's consumer waited for it (a retriable error) instead of
    // dead-lettering what it could not write.
    const letters = await readTopic(s.topology.kafka.topics.deadLetters);
    expect(letters.map((m) => m.headers['shardsync-dlq-error-code'])).toEqual([]);
  }, TIMEOUT_MS);

  it('dead letters growing: letters of a fixed cause are replayed and applied, undecodable ones are left alone', async () => {
    const s = await situation({ datasets: 2 });
    const [d1, d2] = s.topology.datasets.map((d) => d.name) as [string, string];
    const t = Date.now() - 60_000;

    // d2 was added to the topology, but the consumers still run with the old one.
    const outdated: Topology = { ...s.topology, datasets: s.topology.datasets.filter((d) => d.name === d1) };
    await Promise.all(DCS.map((dc) => s.startConsumer(dc, outdated)));
    await produceRaw(s.topology, [
      makeUpdate(d1, 'a.bin', v(t + 1), 'a'),
      ...[1, 2, 3].map((n) => makeUpdate(d2, `2024/part-000${n}.parquet`, v(t + 10 + n), `rows ${n}`)),
      // Not a shard update at all: something else writes to the updates topic.
      { key: 'ingest/oops', value: Buffer.from('{"hello": "not an avro event"}') },
    ]);
    await waitFor(async () => ((await readTopic(s.topology.kafka.topics.deadLetters)).length === 12 ? true : undefined), {
      what: '12 dead letters (3 updates of an unknown dataset and 1 undecodable record, from 3 datacenters)',
    });

    await follow('dead-letters-growing.md', {
      variables: { SHARDSYNC_TOPOLOGY: s.file, CODE: 'SHARDSYNC_UNKNOWN_DATASET', DATASET: d2, KEY: '2024/part-0002.parquet' },
      env: s.env,
      hooks: { 'redeploy-consumers': async () => void (await Promise.all(DCS.map((dc) => s.startConsumer(dc)))) },
    });

    await expectConverged(s.topology, d1, { 'a.bin': sha256('a') }, 5000);
    await expectConverged(s.topology, d2, Object.fromEntries([1, 2, 3].map((n) => [`2024/part-000${n}.parquet`, sha256(`rows ${n}`)])), 5000);
    // The undecodable record was not sent back: it is still dead-lettered three times, and only those.
    const letters = await readTopic(s.topology.kafka.topics.deadLetters);
    expect(letters.map((m) => m.headers['shardsync-dlq-error-code']).sort()).toEqual([...Array<string>(3).fill('SHARDSYNC_UNDECODABLE_EVENT'), ...Array<string>(9).fill('SHARDSYNC_UNKNOWN_DATASET')]);
  }, TIMEOUT_MS);

  it('Kafka unavailable: diagnosed while the brokers are down, and replication resumes once they are back', async () => {
    const s = await situation();
    const dataset = s.topology.datasets[0]?.name ?? '';
    const t = Date.now() - 60_000;

    await Promise.all(DCS.map((dc) => s.startConsumer(dc)));
    await produceRaw(s.topology, [1, 2, 3].map((n) => makeUpdate(dataset, `shard-${n}.bin`, v(t + n), `before ${n}`)));
    await expectConverged(s.topology, dataset, Object.fromEntries([1, 2, 3].map((n) => [`shard-${n}.bin`, sha256(`before ${n}`)])));

    const startKafka = await stopStackServer('kafka');
    await follow('kafka-unavailable.md', {
      variables: { SHARDSYNC_TOPOLOGY: s.file },
      env: s.env,
      hooks: {
        'start-kafka': startKafka,
        // The supervisor: a consumer whose Kafka client gave up (onFatal; in production it exits 1) is started again.
        'restart-exited-consumers': async () => {
          for (const dc of DCS) {
            if ((s.consumers.get(dc)?.fatal.length ?? 0) > 0) await s.startConsumer(dc);
          }
        },
        // The updates refused with 503 during the outage, sent again by their clients.
        'clients-retry': async () => {
          const retried = [makeUpdate(dataset, 'shard-2.bin', v(t + 10), 'during 2'), makeUpdate(dataset, 'shard-4.bin', v(t + 11), 'during 4')];
          await waitFor(() => produceRaw(s.topology, retried).then(() => true), { timeoutMs: 60_000, intervalMs: 1000, what: 'Kafka to accept updates again' });
        },
      },
    });

    await expectConverged(
      s.topology,
      dataset,
      { 'shard-1.bin': sha256('before 1'), 'shard-2.bin': sha256('during 2'), 'shard-3.bin': sha256('before 3'), 'shard-4.bin': sha256('during 4') },
      5000,
    );
  }, TIMEOUT_MS);

  it('covers every runbook of docs/runbooks', () => {
    expect(readdirSync(RUNBOOK_DIR).filter((f) => f.endsWith('.md') && f !== 'README.md').sort()).toEqual([...COVERED].sort());
  });
});
