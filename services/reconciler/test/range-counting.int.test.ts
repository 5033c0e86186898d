import { objectKeyOf } from '@shardsync/events';
import { StorePool } from '@shardsync/objectstore';
import { createPassLock, scanPass, splitIntoRanges, TokenBucket } from '@shardsync/reconcile';
import { holderRunningIn } from '@shardsync/reconcile-queue';
import { createLogger } from '@shardsync/runtime';
import { createTestTopology, stackInfo } from '@shardsync/testing';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { reconcilerEnvSchema } from '../src/env.js';
import { contextFor, type JobDeps } from '../src/jobs/deps.js';
import { createProcessor } from '../src/jobs/processor.js';
import { JOB, QUEUE_NAME, type RangeJobData } from '../src/jobs/types.js';
import { ReconcilerMetrics } from '../src/metrics.js';
import { rawDelete, seed, testPool, testPrefix, v } from './helpers.js';

/** The deps the service builds, over the stack's Redis and S3 servers, with metrics of their own. */
function jobDeps(topology: JobDeps['topology'], prefix: string): JobDeps {
  const redis = new Redis(stackInfo().redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE_NAME, { connection: redis, prefix });
  const stores = new StorePool(topology.datacenters);
  onTestFinished(async () => {
    await queue.close();
    await stores.close();
    redis.disconnect();
  });
  return {
    topology,
    stores,
    queue,
    redis,
    env: reconcilerEnvSchema.parse({ SHARDSYNC_RECONCILER_REDIS_PREFIX: prefix }),
    metrics: new ReconcilerMetrics(),
    logger: createLogger('test', {}, 'silent'),
    budget: new TokenBucket({ ratePerSecond: 1e12 }),
    history: { keyPrefix: `${prefix}:reconcile-history` },
    passLock: createPassLock(redis, prefix, holderRunningIn(queue, JOB.pass)),
    signal: new AbortController().signal,
  };
}

async function counted(deps: JobDeps): Promise<Record<string, number>> {
  const [copies, repairs] = await Promise.all([deps.metrics.copies.get(), deps.metrics.repairs.get()]);
  const entries: [string, number][] = [
    ...copies.values.map((m): [string, number] => [`${String(m.labels.status)}@${String(m.labels.datacenter)}`, m.value]),
    ...repairs.values.map((m): [string, number] => [`${String(m.labels.result)}@${String(m.labels.datacenter)}`, m.value]),
  ];
  return Object.fromEntries(entries);
}

describe('range job metrics', () => {
  it('a range job delivered again after it counted its keys (its completion lost: a stalled lock, a crash) does not count them again', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const prefix = testPrefix();
    const pool = testPool(topology);
    await seed(pool, dataset, 'k0', Buffer.from('body'), v(100));
    await rawDelete(topology, 'dc-c', objectKeyOf(dataset, 'k0'));
    const deps = jobDeps(topology, prefix);
    // A dry run: the second delivery finds the very divergence the first one counted.
    const request = { dataset, dryRun: true };
    const scan = await scanPass(contextFor(deps, request, 'pass-1'));
    const [range] = splitIntoRanges(scan.divergence.keys, 500);
    if (range === undefined) throw new Error('the scan found no divergent key');
    const added = await deps.queue.add(JOB.range, { passId: 'pass-1', request, range } satisfies RangeJobData);
    const process = createProcessor(deps);

    // BullMQ delivers a job at least once: a worker whose lock lapsed (or that died before
    // moving the job to completed) has its job run again, from what Redis holds of it.
    for (let delivery = 0; delivery < 2; delivery++) {
      const job = (await deps.queue.getJob(added.id ?? '')) as Job<unknown, unknown>;
      await process(job, undefined);
    }
    expect(await counted(deps)).toEqual({ 'missing@dc-c': 1, 'planned@dc-c': 1 });
  });
});
