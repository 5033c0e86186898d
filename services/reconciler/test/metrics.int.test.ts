import { randomBytes } from 'node:crypto';
import { objectKeyOf } from '@shardsync/events';
import { createTestTopology, testRedis, uniqueName, waitFor } from '@shardsync/testing';
import { describe, expect, it } from 'vitest';
import { DCS, nextReport, rawDelete, seed, startReconciler, testPool, testPrefix, v } from './helpers.js';

function remainingCopies(metrics: string, dataset: string): number | undefined {
  const line = new RegExp(`^shardsync_reconciler_last_pass_remaining_copies\\{dataset="${dataset}"\\} (\\d+)$`, 'm').exec(metrics);
  return line === null ? undefined : Number(line[1]);
}

describe('reconciler metrics with several instances', () => {
  it("report the dataset's last pass on every instance, not the last one each instance happened to run", async () => {
    const [models, archive] = [uniqueName('ds').slice(0, 60), uniqueName('ds').slice(0, 60)];
    const topology = await createTestTopology({ datasets: [models, archive].map((name) => ({ name, datacenters: DCS })) });
    const prefix = testPrefix();
    const redis = testRedis();
    const pool = testPool(topology);
    await seed(pool, models, 'k', Buffer.from('body'), v(100));
    await rawDelete(topology, 'dc-a', objectKeyOf(models, 'k'));
    for (let i = 0; i < 4; i++) await seed(pool, archive, `shard-${i}`, randomBytes(1024 * 1024), v(100 + i));
    // `a` runs one job at a time and reads bodies slowly: its deep pass of `archive` keeps it busy.
    const a = await startReconciler(topology, prefix, {
      SHARDSYNC_RECONCILER_SCHEDULE: 'false',
      SHARDSYNC_RECONCILER_CONCURRENCY: '1',
      SHARDSYNC_RECONCILER_DEEP_BYTES_PER_SECOND: String(256 * 1024),
    });
    await a.enqueuePass({ dataset: models, dryRun: true });
    const dryRun = await nextReport(redis, prefix, models, new Set());
    expect(dryRun.remaining).toBe(1);
    expect(remainingCopies(await (await fetch(`${a.url}/metrics`)).text(), models)).toBe(1);
    const deep = await a.enqueuePass({ dataset: archive, deep: true });
    await waitFor(async () => ((await (await a.queue.getJob(deep))?.getState()) === 'active' ? true : undefined), { timeoutMs: 30_000, what: "a's deep pass running" });

    // `b` repairs the dataset; `a` is busy all along.
    const b = await startReconciler(topology, prefix, { SHARDSYNC_RECONCILER_SCHEDULE: 'false' });
    await b.enqueuePass({ dataset: models });
    const repaired = await nextReport(redis, prefix, models, new Set([dryRun.passId]));
    expect(repaired.remaining).toBe(0);
    expect(remainingCopies(await (await fetch(`${b.url}/metrics`)).text(), models)).toBe(0);
    // What an alert on `a` sees: the divergence is gone.
    expect(remainingCopies(await (await fetch(`${a.url}/metrics`)).text(), models)).toBe(0);
  }, 120_000);
});
