import { formatVersion, META, objectKeyOf } from '@shardsync/events';
import { recentPasses } from '@shardsync/reconcile';
import { createTestTopology, testRedis } from '@shardsync/testing';
import { describe, expect, it } from 'vitest';
import { JOB, type PassJobData } from '../src/jobs/types.js';
import { deleteKeys, DCS, datasetContents, nextReport, rawDelete, rawPut, seed, startReconciler, testPool, testPrefix, v } from './helpers.js';

describe('reconciler service', () => {
  it('keeps exactly one schedule per dataset and mode however many instances start or restart', async () => {
    const topology = await createTestTopology();
    const prefix = testPrefix();
    const settings = { SHARDSYNC_RECONCILER_INTERVAL_MS: '3600000', SHARDSYNC_RECONCILER_DEEP_INTERVAL_MS: '86400000' };
    const first = await startReconciler(topology, prefix, settings);
    await startReconciler(topology, prefix, settings);
    await startReconciler(topology, prefix, settings);
    const dataset = topology.datasets[0]?.name ?? '';
    const passSchedulers = async () => (await first.queue.getJobSchedulers()).filter((s) => !s.key.startsWith('staging-gc-'));
    expect((await passSchedulers()).map((s) => s.key).sort()).toEqual([`deep-pass-${dataset}`, `pass-${dataset}`]);
    // A restart with another interval updates the schedule instead of adding one; dropping deep passes removes theirs.
    await startReconciler(topology, prefix, { SHARDSYNC_RECONCILER_INTERVAL_MS: '1800000' });
    expect((await passSchedulers()).map((s) => [s.key, s.every])).toEqual([[`pass-${dataset}`, 1_800_000]]);
  });

  it('runs a pass as range jobs over several workers, repairs what diverged and stores a queryable report', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const redis = testRedis();
    const prefix = testPrefix();
    const pool = testPool(topology);
    for (let i = 0; i < 40; i++) await seed(pool, dataset, `k${i}`, Buffer.from(`body ${i}`), v(100 + i));
    for (let i = 0; i < 9; i++) await rawDelete(topology, DCS[i % 3] ?? 'dc-a', objectKeyOf(dataset, `k${i}`));
    await rawPut(topology, 'dc-b', objectKeyOf(dataset, 'k20'), Buffer.from('by hand'));
    const settings = { SHARDSYNC_RECONCILER_SCHEDULE: 'false', SHARDSYNC_RECONCILER_KEYS_PER_RANGE: '2' };
    const service = await startReconciler(topology, prefix, settings);
    const peer = await startReconciler(topology, prefix, settings);
    await service.enqueuePass({ dataset });
    const report = await nextReport(redis, prefix, dataset, new Set());
    expect(report.divergentKeys).toBe(10);
    expect(report.totals).toMatchObject({ missing: 9, stale: 1, repaired: 10, failed: 0 });
    expect(report.converged).toBe(true);
    const contents = await Promise.all(DCS.map((dc) => datasetContents(topology, dc, dataset)));
    expect(contents[1]?.objects).toEqual(contents[0]?.objects);
    expect(contents[2]?.objects).toEqual(contents[0]?.objects);
    expect(Object.keys(contents[0]?.objects ?? {})).toHaveLength(40);

    await service.enqueuePass({ dataset });
    const second = await nextReport(redis, prefix, dataset, new Set([report.passId]));
    expect(second.divergentKeys).toBe(0);
    // Either instance may finish a pass (BullMQ resumes a parent on whichever worker is free), so count both.
    const converged = await Promise.all([service, peer].map(async (s) => convergedPasses(await (await fetch(`${s.url}/metrics`)).text())));
    expect(converged.reduce((sum, n) => sum + n, 0)).toBe(2);
  });

  it('a pass job that stopped after recording its scan but before adding its range jobs compares again and repairs, rather than waiting on no ranges', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const redis = testRedis();
    const prefix = testPrefix();
    const pool = testPool(topology);
    for (let i = 0; i < 5; i++) await seed(pool, dataset, `k${i}`, Buffer.from(`body ${i}`), v(100 + i));
    await rawDelete(topology, 'dc-a', objectKeyOf(dataset, 'k1'));
    const service = await startReconciler(topology, prefix, { SHARDSYNC_RECONCILER_SCHEDULE: 'false' });
    // What such a run leaves in the job's data: a pass id, a scan and its ranges' sizes, no children.
    const scan = { divergentKeys: 1 } as unknown as PassJobData['scan'];
    const data: PassJobData = { request: { dataset }, passId: `crashed-${Date.now()}`, scan, rangeKeys: [1] };
    await service.queue.add(JOB.pass, data);
    const report = await nextReport(redis, prefix, dataset, new Set());
    expect(report).toMatchObject({ divergentKeys: 1, converged: true });
    expect(Object.keys((await datasetContents(topology, 'dc-a', dataset)).objects)).toHaveLength(5);
  });

  it('reaches the right answer after Redis lost everything between passes', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const redis = testRedis();
    const prefix = testPrefix();
    const pool = testPool(topology);
    for (let i = 0; i < 20; i++) await seed(pool, dataset, `k${i}`, Buffer.from(`body ${i}`), v(100 + i));
    await rawDelete(topology, 'dc-a', objectKeyOf(dataset, 'k1'));
    const before = await startReconciler(topology, prefix, { SHARDSYNC_RECONCILER_SCHEDULE: 'false' });
    await before.enqueuePass({ dataset });
    const first = await nextReport(redis, prefix, dataset, new Set());
    expect(first.totals.repaired).toBe(1);
    await before.close();

    expect(await deleteKeys(redis, prefix)).toBeGreaterThan(0);
    const older = Buffer.from('restored from an old backup');
    await rawPut(topology, 'dc-c', objectKeyOf(dataset, 'k2'), older, { [META.version]: formatVersion(v(1)), [META.sha256]: 'f'.repeat(64) });
    await rawDelete(topology, 'dc-b', objectKeyOf(dataset, 'k3'));

    const after = await startReconciler(topology, prefix);
    const report = await nextReport(redis, prefix, dataset, new Set([first.passId]));
    expect(report.totals).toMatchObject({ stale: 1, missing: 1, repaired: 2, failed: 0 });
    expect((await recentPasses(redis, dataset, 10, { keyPrefix: `${prefix}:reconcile-history` })).map((r) => r.passId)).toEqual([report.passId]);
    const contents = await Promise.all(DCS.map((dc) => datasetContents(topology, dc, dataset)));
    expect(contents[2]?.objects).toEqual(contents[0]?.objects);
    expect(contents[1]?.objects).toEqual(contents[0]?.objects);
    expect(after.url).toMatch(/^http/);
  });
});

function convergedPasses(metrics: string): number {
  const line = /^shardsync_reconciler_passes_total\{dataset="[^"]+",mode="routine",result="converged"\} (\d+)$/m.exec(metrics);
  return Number(line?.[1] ?? 0);
}
