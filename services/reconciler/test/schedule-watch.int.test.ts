import { createTestTopology, testRedis, waitFor } from '@shardsync/testing';
import { describe, expect, it } from 'vitest';
import { nextReport, seed, startReconciler, testPool, testPrefix, v } from './helpers.js';

function restored(metrics: string, scheduler: string): number {
  const line = new RegExp(`^shardsync_reconciler_schedules_restored_total\\{scheduler="${scheduler}"\\} (\\d+)$`, 'm').exec(metrics);
  return Number(line?.[1] ?? 0);
}

describe('a pass schedule BullMQ stopped advancing', () => {
  it('is noticed and restored, so scheduled passes go on without a restart', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const scheduler = `pass-${dataset}`;
    const prefix = testPrefix();
    const redis = testRedis();
    await seed(testPool(topology), dataset, 'k0', Buffer.from('body'), v(100));
    const service = await startReconciler(topology, prefix, {
      SHARDSYNC_RECONCILER_INTERVAL_MS: '2000',
      SHARDSYNC_STAGING_GC_INTERVAL_MS: '0',
      SHARDSYNC_RECONCILER_SCHEDULE_CHECK_MS: '500',
    });
    const seen = new Set([(await nextReport(redis, prefix, dataset, new Set())).passId]);

    // The worker advances a schedule when it picks up its due job (the next job is added then).
    // Any error other than a lost connection there is only emitted as a worker 'error', and the
    // schedule has no next job from then on. Here the due job's own options break that step,
    // as a thrown error in BullMQ's scheduler path would.
    const next = (await service.queue.getJobScheduler(scheduler))?.next;
    const jobKey = `${prefix}:reconcile:repeat:${scheduler}:${String(next)}`;
    const opts = JSON.parse((await redis.hget(jobKey, 'opts')) ?? '{}') as { repeat?: Record<string, unknown> };
    expect(opts.repeat?.every).toBe(2000);
    delete opts.repeat?.every;
    await redis.hset(jobKey, 'opts', JSON.stringify(opts));

    for (let i = 0; i < 2; i++) seen.add((await nextReport(redis, prefix, dataset, seen, () => true, 30_000)).passId);
    const metrics = await waitFor(async () => {
      const text = await (await fetch(`${service.url}/metrics`)).text();
      return restored(text, scheduler) > 0 ? text : undefined;
    }, { timeoutMs: 5_000, what: 'the restored schedule counted' });
    expect(restored(metrics, scheduler)).toBeGreaterThan(0);
  }, 90_000);
});
