import { testRedis, waitFor } from '@shardsync/testing';
import { Queue } from 'bullmq';
import { describe, expect, it, onTestFinished } from 'vitest';
import { QUEUE_NAME } from '../src/jobs/types.js';
import { nextReport, slowDeepPassSetup, startReconciler } from './helpers.js';

describe('a reconciler shut down mid-pass', () => {
  it('queues the pass it cut short again without using up an attempt, and the next instance finishes it', async () => {
    const { topology, dataset, prefix, service: slow } = await slowDeepPassSetup();
    const redis = testRedis();
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
