import { describe, expect, it } from 'vitest';
import { createRemoteView, findDivergence, scanDatacenter, splitIntoRanges, type DatacenterScan, type ListedState } from '../src/index.js';
import { DATASET, deleteObject, MemoryStores, putEverywhere, putObject, v } from './helpers.js';

const DAY = 24 * 3600 * 1000;

async function scanAll(stores: MemoryStores, nowMs = Date.now()): Promise<DatacenterScan[]> {
  return Promise.all([...stores.map.values()].map((s) => scanDatacenter(s, { dataset: DATASET, leafBits: 8, nowMs })));
}

describe('scanDatacenter and findDivergence', () => {
  it('lists objects and tombstones of the dataset only, without any request beyond listing', async () => {
    const stores = new MemoryStores(['dc-a']);
    await putObject(stores.of('dc-a'), 'x', 'bytes', v(1));
    await deleteObject(stores.of('dc-a'), 'y', v(2));
    await stores.of('dc-a').put('other-dataset/z', Buffer.from('z'));
    let requests = 0;
    stores.of('dc-a').injectFault({ operation: 'head', error: () => new Error(`HEAD #${++requests} during a scan`), times: Infinity });
    const scan = await scanDatacenter(stores.of('dc-a'), { dataset: DATASET });
    expect(scan.stats).toMatchObject({ objects: 1, tombstones: 1, bytes: 5 });
    expect(scan.tree.entryCount).toBe(2);
    expect(requests).toBe(0);
  });

  it('drills only into differing buckets, and returns only the keys whose listings differ', async () => {
    const stores = new MemoryStores();
    for (let i = 0; i < 500; i++) await putEverywhere(stores, `k${i}`, `b${i}`, v(i + 1));
    await stores.of('dc-b').delete(`${DATASET}/k7`);
    const divergence = await findDivergence(await scanAll(stores));
    expect(divergence.keys.map((k) => k.key)).toEqual(['k7']);
    expect(divergence.differingBuckets).toBe(1);
    expect(divergence.candidateKeys).toBeLessThan(20);
    expect(divergence.keys[0]?.listed['dc-b']).toBeUndefined();
    expect(divergence.keys[0]?.listed['dc-a']?.object?.etag).toMatch(/^"[0-9a-f]{32}"$/);
  });

  it('gives the same answer when a datacenter is compared through an agent\'s shipped summary', async () => {
    const stores = new MemoryStores();
    for (let i = 0; i < 100; i++) await putEverywhere(stores, `k${i}`, `b${i}`, v(i + 1));
    await putObject(stores.of('dc-c'), 'k3', 'older', v(0));
    const [a, b, c] = await scanAll(stores);
    if (a === undefined || b === undefined || c === undefined) throw new Error('three scans expected');
    // What an agent next to dc-c would send: JSON only.
    const shipped = JSON.parse(JSON.stringify({ summary: c.summary(), stats: c.stats, flagged: c.flagged })) as { summary: unknown; stats: typeof c.stats; flagged: typeof c.flagged };
    const remote = createRemoteView({ datacenter: 'dc-c', ...shipped, entriesIn: async (buckets) => new Map(JSON.parse(JSON.stringify([...(await c.entriesIn(buckets))])) as [string, ListedState][]) });
    const local = await findDivergence([a, b, c]);
    const split = await findDivergence([a, b, remote]);
    expect(split).toEqual(local);
    expect(split.keys.map((k) => k.key)).toEqual(['k3']);
  });

  it('ignores tombstones past their grace period, which consumers expire at different times', async () => {
    const stores = new MemoryStores(['dc-a', 'dc-b'], () => ({ now: () => new Date(0) }));
    await deleteObject(stores.of('dc-a'), 'old', v(1), 0);
    const scanAt = (nowMs: number) => Promise.all([...stores.map.values()].map((s) => scanDatacenter(s, { dataset: DATASET, nowMs })));
    expect((await findDivergence(await scanAt(1 * DAY))).keys.map((k) => k.key)).toEqual(['old']);
    expect((await findDivergence(await scanAt(8 * DAY))).keys).toEqual([]);
  });

  it('splits divergent keys into ranges of whole buckets', async () => {
    const keys = [0, 0, 1, 2, 2, 2, 3, 5].map((bucket, i) => ({ key: `k${i}`, bucket, listed: {} }));
    const ranges = splitIntoRanges(keys, 3);
    expect(ranges.map((r) => [r.firstBucket, r.lastBucket, r.keys.length])).toEqual([
      [0, 1, 3],
      [2, 2, 3],
      [3, 5, 2],
    ]);
    expect(ranges.flatMap((r) => r.keys)).toEqual(keys);
  });
});
