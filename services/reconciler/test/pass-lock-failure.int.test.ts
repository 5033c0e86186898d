import { createPassLock, passLockKey } from '@shardsync/reconcile';
import { createTestTopology, testRedis, waitFor } from '@shardsync/testing';
import { describe, expect, it } from 'vitest';
import { startReconciler, testPrefix } from './helpers.js';

describe('the pass lock of a pass that fails', () => {
  it('is released once the pass failed for good, so a CLI repair is not refused until the next scheduled pass', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    // dc-c's bucket is gone (a lost datacenter): listing it fails, so every attempt of the pass fails.
    const lost = { ...topology, datacenters: topology.datacenters.map((dc) => (dc.name === 'dc-c' ? { ...dc, s3: { ...dc.s3, bucket: `${dc.s3.bucket}-gone` } } : dc)) };
    const prefix = testPrefix();
    const redis = testRedis();
    const service = await startReconciler(lost, prefix, { SHARDSYNC_RECONCILER_SCHEDULE: 'false' });
    const jobId = await service.enqueuePass({ dataset });
    const failed = await waitFor(
      async () => {
        const job = await service.queue.getJob(jobId);
        return job !== undefined && (await job.getState()) === 'failed' ? job : undefined;
      },
      { timeoutMs: 60_000, what: 'the pass to fail for good' },
    );
    expect(failed.attemptsMade).toBe(2);
    expect(await redis.get(passLockKey(prefix, dataset))).toBeNull();
    // What `shardsync bootstrap` does to refill the lost datacenter: it cannot see the queue, so any holder counts as running.
    const cli = createPassLock(redis, prefix, async () => true);
    expect(await cli.lease(dataset, 'cli:host:1:bootstrap', 60_000)).toBeUndefined();
  }, 90_000);
});
