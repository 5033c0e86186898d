import { passLockKey } from '@shardsync/reconcile';
import { JOB, QUEUE_NAME } from '@shardsync/reconcile-queue';
import { createTestTopology, testRedis } from '@shardsync/testing';
import { Queue, Worker } from 'bullmq';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ReconcileResult } from '../src/index.js';
import { cliJson, keysIn, putManaged, storesOf, v, withPassHistory } from './int-helpers.js';

/** A dataset with one key missing from dc-c, the reconciler's queue and the dataset's pass lock key. */
async function divergentDataset() {
  const topology = await createTestTopology();
  const dataset = topology.datasets[0]?.name ?? '';
  const env = withPassHistory(dataset);
  const prefix = env['SHARDSYNC_RECONCILER_REDIS_PREFIX'] ?? '';
  const lockKey = passLockKey(prefix, dataset);
  const redis = testRedis();
  const queue = new Queue(QUEUE_NAME, { connection: redis, prefix });
  onTestFinished(async () => {
    await redis.del(lockKey);
    await queue.obliterate({ force: true });
    await queue.close();
  });
  const pool = storesOf(topology);
  for (const dc of ['dc-a', 'dc-b']) await putManaged(pool, dc, dataset, 'k', 'body', v(1000));
  return { topology, dataset, env, prefix, lockKey, redis, queue, pool };
}

/** A reconciler worker connected to the queue that takes no job (as one busy with others would look). */
async function connectedWorker(redis: ReturnType<typeof testRedis>, prefix: string): Promise<Worker> {
  const worker = new Worker(QUEUE_NAME, async () => undefined, { connection: redis, prefix, autorun: false });
  await worker.waitUntilReady();
  return worker;
}

describe('shardsync reconcile and the pass lock the scheduled passes take', () => {
  it('refuses to repair a dataset whose pass a running reconciler job holds, runs a dry run beside it, repairs with --ignore-pass-lock, and holds the lock only while its own pass runs', async () => {
    const { topology, dataset, env, prefix, lockKey, redis, queue, pool } = await divergentDataset();
    // A scheduled pass job of this dataset, with a reconciler connected to run it.
    const job = await queue.add(JOB.pass, { request: { dataset } });
    await redis.set(lockKey, job.id ?? '');
    const worker = await connectedWorker(redis, prefix);
    onTestFinished(() => worker.close());

    const refused = await cliJson<{ error: string; message: string; hint: string }>(topology, ['reconcile', '--dataset', dataset], env);
    expect(refused.code).toBe(2);
    expect(refused.json).toMatchObject({ error: 'SHARDSYNC_CLI_CONFLICT', message: `a pass of dataset ${dataset} is already running: the reconciler's pass job ${job.id} holds its pass lock` });
    expect(refused.json.hint).toContain('--ignore-pass-lock');
    expect(await keysIn(pool, 'dc-c', dataset)).toEqual([]);

    const dry = await cliJson<ReconcileResult>(topology, ['reconcile', '--dataset', dataset, '--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(1);
    expect(dry.json.passes[0]?.divergentKeys).toBe(1);

    const forced = await cliJson<ReconcileResult>(topology, ['reconcile', '--dataset', dataset, '--ignore-pass-lock'], env);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await keysIn(pool, 'dc-c', dataset)).toEqual(['k']);
    expect(await redis.get(lockKey)).toBe(job.id);

    // Free: the CLI's own pass takes the lock (a lease) and gives it back when it is done.
    await redis.del(lockKey);
    await putManaged(pool, 'dc-a', dataset, 'k2', 'more', v(2000));
    const holders = new Set<string | null>();
    const watching = setInterval(() => void redis.get(lockKey).then((h) => holders.add(h)), 5);
    const own = await cliJson<ReconcileResult>(topology, ['reconcile', '--dataset', dataset], env).finally(() => clearInterval(watching));
    expect(own.code, own.stderr).toBe(0);
    expect(own.json.lockWarnings).toBeUndefined();
    expect(await redis.get(lockKey)).toBeNull();
    expect([...holders].some((h) => h?.startsWith('cli:') === true)).toBe(true);
  });

  it('takes the lock over from a pass job no connected reconciler runs (the reconciler stopped mid-pass), and says so', async () => {
    const { topology, dataset, env, lockKey, redis, queue, pool } = await divergentDataset();
    // Cut short by a shutdown: back to waiting, still holding the lock, and no reconciler connected.
    const job = await queue.add(JOB.pass, { request: { dataset } });
    await redis.set(lockKey, job.id ?? '');

    const run = await cliJson<ReconcileResult>(topology, ['reconcile', '--dataset', dataset], env);
    expect(run.code, run.stderr).toBe(0);
    expect(await keysIn(pool, 'dc-c', dataset)).toEqual(['k']);
    expect(run.json.lockWarnings).toEqual([`dataset ${dataset}: took the pass lock over from the reconciler's pass job ${job.id}, which no connected reconciler is running (it skips its pass if it runs again while this one holds the lock)`]);
    expect(await redis.get(lockKey)).toBeNull();

    // A holder naming no job at all (removed from the queue) holds nothing either.
    await redis.set(lockKey, 'no-such-job');
    await putManaged(pool, 'dc-a', dataset, 'k2', 'more', v(2000));
    const again = await cliJson<ReconcileResult>(topology, ['reconcile', '--dataset', dataset], env);
    expect(again.code, again.stderr).toBe(0);
    expect(await keysIn(pool, 'dc-c', dataset)).toEqual(['k', 'k2']);
  });
});
