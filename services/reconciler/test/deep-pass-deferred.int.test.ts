import { createPassLock } from '@shardsync/reconcile';
import { createTestTopology, testRedis, waitFor } from '@shardsync/testing';
import { describe, expect, it } from 'vitest';
import type { PassResult } from '../src/jobs/types.js';
import { nextReport, seed, startReconciler, testPool, testPrefix, v } from './helpers.js';

function passes(metrics: string, mode: string, result: string): number {
  const line = new RegExp(`^shardsync_reconciler_passes_total\\{dataset="[^"]+",mode="${mode}",result="${result}"\\} (\\d+)$`, 'm').exec(metrics);
  return Number(line?.[1] ?? 0);
}

describe('a deep pass that finds its dataset busy', () => {
  it('is deferred until the pass holding the lock is done, then runs, rather than being skipped (a routine pass is skipped as before)', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const prefix = testPrefix();
    const redis = testRedis();
    await seed(testPool(topology), dataset, 'k0', Buffer.from('body'), v(100));
    const service = await startReconciler(topology, prefix, { SHARDSYNC_RECONCILER_SCHEDULE: 'false', SHARDSYNC_RECONCILER_DEFER_MS: '500' });
    // Another pass holds the dataset: what a routine pass fired at the same moment as the deep
    // one (a deep interval that is a multiple of the routine one) looks like to the loser.
    const holder = createPassLock(redis, prefix, async () => true);
    expect(await holder.lease(dataset, 'cli:host:1:routine', 60_000)).toBeUndefined();
    const deep = await service.enqueuePass({ dataset, deep: true });
    const routine = await service.enqueuePass({ dataset });

    const skipped = await waitFor(
      async () => {
        const job = await service.queue.getJob(routine);
        return job !== undefined && (await job.getState()) === 'completed' ? (job.returnvalue as PassResult) : undefined;
      },
      { timeoutMs: 30_000, what: 'the routine pass to finish' },
    );
    expect(skipped.skipped).toMatch(/CLI pass/);
    await waitFor(async () => ((await (await service.queue.getJob(deep))?.getState()) === 'delayed' ? true : undefined), { timeoutMs: 30_000, what: 'the deep pass deferred' });

    await holder.release(dataset, 'cli:host:1:routine');
    const report = await nextReport(redis, prefix, dataset, new Set(), (r) => r.deep, 30_000);
    expect(report.converged).toBe(true);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(passes(metrics, 'deep', 'deferred')).toBeGreaterThan(0);
    expect(passes(metrics, 'deep', 'converged')).toBe(1);
    expect(passes(metrics, 'routine', 'skipped')).toBe(1);
  }, 90_000);
});
