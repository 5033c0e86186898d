import { randomBytes } from 'node:crypto';
import { createTestTopology, testRedis, waitFor } from '@shardsync/testing';
import { Queue } from 'bullmq';
import { describe, expect, it, onTestFinished } from 'vitest';
import { QUEUE_NAME } from '../src/jobs/types.js';
import { nextReport, seed, startReconciler, testPool, testPrefix, v } from './helpers.js';

const MiB = 1024 * 1024;

describe('a reconciler shut down mid-pass', () => {
  it('queues the pass it cut short again without using up an attempt, and the next instance finishes it', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const redis = testRedis();
    const prefix = testPrefix();
    const pool = testPool(topology);
    for (let i = 0; i < 4; i++) await seed(pool, dataset, `shard-${i}`, randomBytes(MiB), v(100 + i));
    // A deep pass reads every copy (12 MiB) at 256 KiB/s: far longer than the 1 s before the cut.
    const slow = await startReconciler(topology, prefix, {
      SHARDSYNC_RECONCILER_SCHEDULE: 'false',
      SHARDSYNC_RECONCILER_DEEP_BYTES_PER_SECOND: String(256 * 1024),
      SHARDSYNC_SHUTDOWN_GRACE_MS: '2000',
    });
    const jobId = await slow.enqueuePass({ dataset, deep: true });
    const queue = new Queue(QUEUE_NAME, { connection: redis, prefix });
    onTestFinished(() => queue.close());
    const job = async () => {
      const found = await queue.getJob(jobId);
      if (found === undefined) throw new Error(`pass job ${jobId} is gone`);
      return found;
    };
    await waitFor(async () => ((await (await job()).getState()) === 'active' ? true : undefined), { timeoutMs: 30_000, what: 'the pass running' });
    await slow.close();

    const cut = await job();
    expect(await cut.getState()).toBe('waiting');
    expect(cut.attemptsMade).toBe(0);
    expect(cut.failedReason ?? '').toBe('');
    await startReconciler(topology, prefix, { SHARDSYNC_RECONCILER_SCHEDULE: 'false' });
    const report = await nextReport(redis, prefix, dataset, new Set());
    expect(report).toMatchObject({ dataset, divergentKeys: 0, converged: true });
  }, 120_000);
});
