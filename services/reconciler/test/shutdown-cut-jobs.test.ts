import { formatVersion, META, objectKeyOf } from '@shardsync/events';
import { MemoryObjectStore, OperationAbortedError, StorePool } from '@shardsync/objectstore';
import { scanPass, splitIntoRanges, TokenBucket } from '@shardsync/reconcile';
import type { Topology } from '@shardsync/config';
import { createLogger } from '@shardsync/runtime';
import { createHash } from 'node:crypto';
import { WaitingError, type Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { reconcilerEnvSchema } from '../src/env.js';
import { contextFor, type JobDeps } from '../src/jobs/deps.js';
import { createProcessor, cutByShutdown } from '../src/jobs/processor.js';
import { JOB } from '../src/jobs/types.js';
import { ReconcilerMetrics } from '../src/metrics.js';

/**
 * A key cut mid-repair by the shutdown is reported as the key's failure (reconcileKey never
 * throws), so a repair or range job would complete with copies "failed" for no fault of theirs;
 * it must go back to the queue instead, without using up an attempt.
 */

const DCS = ['dc-a', 'dc-b', 'dc-c'];
const DATASET = 'models';
const KEY = 'shard-0';
const BODY = Buffer.from('the winning bytes');

function topology(): Topology {
  return {
    kafka: { brokers: ['127.0.0.1:1'], clientId: 'test', topics: { updates: 'u', deadLetters: 'd' }, partitions: 1, replicationFactor: 1, retentionMs: 86_400_000 },
    redis: { url: 'redis://127.0.0.1:1' },
    datacenters: DCS.map((name) => ({
      name,
      s3: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', bucket: `bucket-${name}`, forcePathStyle: true, credentials: { type: 'none' as const }, listing: 'flat' as const, artifacts: 'none' as const },
    })),
    datasets: [{ name: DATASET, datacenters: [...DCS] }],
  };
}

/** dc-b lacks the key; the shutdown's abort fires as the repair starts writing dc-b's copy (mid-repair). */
async function setup() {
  const closing = new AbortController();
  const stores = new Map(
    DCS.map((dc) => [
      dc,
      new MemoryObjectStore({
        datacenter: dc,
        bucket: `bucket-${dc}`,
        beforeOperation: (op) => {
          if (dc === 'dc-b' && op === 'put') closing.abort(new Error('reconciler closing'));
        },
      }),
    ]),
  );
  const version = formatVersion({ physicalMs: 100, logical: 0, producerId: 'producer-1' });
  for (const dc of ['dc-a', 'dc-c']) {
    await stores.get(dc)?.put(objectKeyOf(DATASET, KEY), BODY, {
      metadata: { [META.version]: version, [META.sha256]: createHash('sha256').update(BODY).digest('hex'), [META.eventId]: 'event-1' },
    });
  }
  const topo = topology();
  const pool = new StorePool(topo.datacenters, {}, { factory: (config) => stores.get(config.datacenter) as MemoryObjectStore });
  onTestFinished(() => pool.close());
  const deps: JobDeps = {
    topology: topo,
    stores: pool,
    queue: {} as Queue,
    redis: {} as Redis,
    env: reconcilerEnvSchema.parse({}),
    metrics: new ReconcilerMetrics(),
    logger: createLogger('test', {}, 'silent'),
    budget: new TokenBucket({ ratePerSecond: 1e12 }),
    history: {},
    passLock: { claim: async () => undefined, lease: async () => undefined, extend: async () => true, release: async () => undefined },
    signal: closing.signal,
  };
  return { deps, closing };
}

function fakeJob(name: string, data: unknown, attempts: number) {
  const moveToWait = vi.fn(async () => 0);
  const job = { name, id: `${name}-1`, data, opts: { attempts }, attemptsMade: 0, queueQualifiedName: 'bull:reconcile', moveToWait, updateData: vi.fn() };
  return { job: job as unknown as Job<unknown, unknown>, moveToWait };
}

describe('reconciler jobs cut short by the shutdown', () => {
  it('a repair job cut short mid-repair goes back to wait (WaitingError, moveToWait) instead of completing with the abort as the key\'s failure', async () => {
    const { deps } = await setup();
    const { job, moveToWait } = fakeJob(JOB.repair, { passId: 'p', request: { dataset: DATASET }, key: KEY }, 5);
    const settled = await createProcessor(deps)(job, 'token').then(
      (value) => ({ completed: value }),
      (err: unknown) => ({ threw: err }),
    );
    expect(moveToWait).toHaveBeenCalledWith('token');
    expect((settled as { threw?: unknown }).threw).toBeInstanceOf(WaitingError);
  });

  it('a range job whose last keys were in flight at the cut goes back to wait instead of completing with them failed', async () => {
    const { deps, closing } = await setup();
    // The range as the pass would hand it over (scanned before the shutdown began).
    const scanning = new AbortController();
    const scan = await scanPass({ ...contextFor({ ...deps, signal: scanning.signal }, { dataset: DATASET }, 'p') });
    const [range] = splitIntoRanges(scan.divergence.keys, 500);
    expect(range?.keys.map((k) => k.key)).toEqual([KEY]);
    expect(closing.signal.aborted).toBe(false);
    const { job, moveToWait } = fakeJob(JOB.range, { passId: 'p', request: { dataset: DATASET }, range }, 3);
    const settled = await createProcessor(deps)(job, 'token').then(
      (value) => ({ completed: value }),
      (err: unknown) => ({ threw: err }),
    );
    expect(moveToWait).toHaveBeenCalledWith('token');
    expect((settled as { threw?: unknown }).threw).toBeInstanceOf(WaitingError);
  });

  it('a job failing for a reason of its own while the instance closes fails as usual (an attempt used, its backoff kept) instead of going back to wait', async () => {
    const { deps, closing } = await setup();
    closing.abort(new Error('reconciler closing'));
    const { job, moveToWait } = fakeJob('job-of-a-newer-version', {}, 3);
    await expect(createProcessor(deps)(job, 'token')).rejects.toThrow(/unknown reconciler job/);
    expect(moveToWait).not.toHaveBeenCalled();
  });
});

describe('cutByShutdown', () => {
  it('recognises the shutdown\'s abort anywhere in the cause chain, and nothing while the signal has not fired', () => {
    const closing = new AbortController();
    const wrapped = new Error('listing dc-b failed', { cause: new OperationAbortedError('ListObjectsV2 was aborted by the caller') });
    expect(cutByShutdown(wrapped, closing.signal)).toBe(false);
    closing.abort(new Error('reconciler closing'));
    expect(cutByShutdown(wrapped, closing.signal)).toBe(true);
    expect(cutByShutdown(new Error('retry gave up', { cause: closing.signal.reason }), closing.signal)).toBe(true);
    expect(cutByShutdown(new Error('NoSuchBucket'), closing.signal)).toBe(false);
  });
});
