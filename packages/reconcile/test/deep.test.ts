import { describe, expect, it } from 'vitest';
import { formatVersion } from '@shardsync/events';
import { createReconcileContext, reconcileKeys, runPass, scanPass, TokenBucket } from '../src/index.js';
import { bodyOf, DCS, MemoryStores, passOptions, putByHand, putEverywhere, putObject, rot, v, versionOf } from './helpers.js';

describe('deep mode', () => {
  it('finds bit rot that listings cannot show and repairs it from a healthy copy', async () => {
    const stores = new MemoryStores();
    for (let i = 0; i < 20; i++) await putEverywhere(stores, `k${i}`, `body ${i}`, v(100 + i));
    rot(stores.of('dc-b'), 'k3');
    const routine = await runPass(passOptions(stores));
    expect(routine.divergentKeys).toBe(0);
    const deep = await runPass(passOptions(stores, { deep: true }));
    expect(deep.perDatacenter.find((c) => c.datacenter === 'dc-b')).toMatchObject({ corrupt: 1, repaired: 1 });
    expect(deep.totals.deepObjects).toBe(60);
    expect(bodyOf(stores.of('dc-b'), 'k3')).toBe('body 3');
    expect((await runPass(passOptions(stores, { deep: true }))).divergentKeys).toBe(0);
  });

  it('finds corruption even in a datacenter compared with nothing else', async () => {
    const stores = new MemoryStores(['dc-a']);
    await putObject(stores.of('dc-a'), 'only', 'bytes', v(1));
    rot(stores.of('dc-a'), 'only');
    const report = await runPass(passOptions(stores, { deep: true }));
    expect(report.perDatacenter[0]).toMatchObject({ corrupt: 1, failed: 1 });
    expect(report.failures[0]?.code).toBe('SHARDSYNC_RECONCILE_NO_HEALTHY_SOURCE');
  });

  it('a copy whose bytes do not match its own SHA-256 is never a repair source, even when a routine pass meets it', async () => {
    const stores = new MemoryStores();
    await putEverywhere(stores, 'k', 'good bytes', v(5), ['dc-a', 'dc-b']);
    rot(stores.of('dc-a'), 'k');
    // dc-a is tried first as a source; its bytes fail verification, so dc-b's are used, and dc-a
    // is repaired too once the repair has learnt that it is corrupt.
    const report = await runPass(passOptions(stores));
    expect(bodyOf(stores.of('dc-c'), 'k')).toBe('good bytes');
    expect(bodyOf(stores.of('dc-a'), 'k')).toBe('good bytes');
    expect(report.perDatacenter.find((c) => c.datacenter === 'dc-a')).toMatchObject({ corrupt: 1, repaired: 1 });
  });

  it('leaves the key alone, and fails it, when every copy of the newest version is corrupt', async () => {
    const stores = new MemoryStores();
    await putEverywhere(stores, 'k', 'newest', v(9), ['dc-a']);
    await putEverywhere(stores, 'k', 'older', v(8), ['dc-b', 'dc-c']);
    rot(stores.of('dc-a'), 'k');
    const report = await runPass(passOptions(stores, { deep: true }));
    expect(bodyOf(stores.of('dc-b'), 'k')).toBe('older');
    expect(bodyOf(stores.of('dc-a'), 'k')).not.toBe('older');
    expect(report.totals.failed).toBe(3);
    expect(report.converged).toBe(false);
  });

  it('agrees on the same hand-written object in every datacenter, as the routine pass does, and reports different ones as unmanaged', async () => {
    const stores = new MemoryStores();
    for (const dc of ['dc-a', 'dc-b', 'dc-c']) await putByHand(stores.of(dc), 'same-everywhere', 'x');
    for (const dc of ['dc-a', 'dc-b', 'dc-c']) await putByHand(stores.of(dc), 'differs', dc);
    expect((await runPass(passOptions(stores))).totals.unmanaged).toBe(3);
    const deep = await runPass(passOptions(stores, { deep: true }));
    // Only the copies of the key that differs are left; the same object everywhere counts as equal.
    expect(deep.remaining).toBe(3);
    expect(deep.totals.equal).toBe(3);
    expect(deep.totals.unmanaged).toBe(3);
  });

  it('paces its reads to the bytes-per-second budget', async () => {
    const stores = new MemoryStores(['dc-a', 'dc-b']);
    const body = 'x'.repeat(1000);
    for (let i = 0; i < 5; i++) await putEverywhere(stores, `k${i}`, body, v(i), ['dc-a', 'dc-b']);
    let clock = 0;
    const budget = new TokenBucket({
      ratePerSecond: 1000,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
    });
    await runPass(passOptions(stores, { deep: true, budget }));
    // 10 KB at 1 KB/s with a 1 KB burst: about 9 s of waiting on the budget's clock.
    expect(clock).toBeGreaterThanOrEqual(9000);
    expect(clock).toBeLessThan(11_000);
  });

  it('decides on the state at repair time, not on what the scan read long before, so a newer version with the bytes of an older one is kept', async () => {
    const stores = new MemoryStores();
    // The content went X (v1), Y (v2), then back to X (v3). When the deep scan read them, dc-b still held v1.
    await putEverywhere(stores, 'k', 'Y', v(2), ['dc-a', 'dc-c']);
    await putObject(stores.of('dc-b'), 'k', 'X', v(1));
    const ctx = createReconcileContext(passOptions(stores, { deep: true }));
    const scan = await scanPass(ctx);
    expect(scan.divergence.keys.map((k) => k.key)).toEqual(['k']);
    // A deep scan of a large dataset takes hours; meanwhile dc-b's consumer applied v2 and v3
    // (dc-a's and dc-c's lag behind), and the repair job runs only then.
    await putObject(stores.of('dc-b'), 'k', 'X', v(3));
    await reconcileKeys(ctx, scan.divergence.keys);
    expect(versionOf(stores.of('dc-b'), 'k')).toBe(formatVersion(v(3)));
    for (const dc of ['dc-a', 'dc-b', 'dc-c']) expect([dc, bodyOf(stores.of(dc), 'k')]).toEqual([dc, 'X']);
  });

  it('stops reading the other datacenters once one of them cannot be scanned, so no reads go on after the pass failed', async () => {
    let reads = 0;
    const stores = new MemoryStores(DCS, (dc) => ({
      beforeOperation: (operation) => {
        if (dc === 'dc-c' && operation === 'list') throw new Error('dc-c unreachable');
        if (operation === 'get') reads++;
      },
    }));
    for (let i = 0; i < 20; i++) await putEverywhere(stores, `k${i}`, 'x'.repeat(1000), v(i));
    // 40 KB to read in dc-a and dc-b at 20 KB/s: about 2 s of reads, were they left running.
    const budget = new TokenBucket({ ratePerSecond: 20_000, burst: 1000 });
    await expect(scanPass(createReconcileContext(passOptions(stores, { deep: true, budget })))).rejects.toThrow('dc-c unreachable');
    const readsWhenFailed = reads;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(reads).toBe(readsWhenFailed);
  });
});
