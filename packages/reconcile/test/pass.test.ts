import { formatVersion, META, tombstoneKeyOf } from '@shardsync/events';
import { describe, expect, it } from 'vitest';
import { renderPassReport, runPass, type PassReport } from '../src/index.js';
import {
  bodyOf,
  DATASET,
  DCS,
  deleteObject,
  hasTombstone,
  MemoryStores,
  passOptions,
  putByHand,
  putEverywhere,
  putObject,
  v,
  versionOf,
} from './helpers.js';

function counts(report: PassReport, dc: string) {
  const c = report.perDatacenter.find((d) => d.datacenter === dc);
  if (c === undefined) throw new Error(`no counts for ${dc}`);
  return c;
}

/** 50 keys replicated everywhere, so divergence sits among equal keys. */
async function replicated(stores: MemoryStores, n = 50): Promise<void> {
  for (let i = 0; i < n; i++) await putEverywhere(stores, `shard-${i}`, `body ${i}`, v(1000 + i));
}

describe('runPass', () => {
  it('reports nothing and makes no request beyond listing when every datacenter agrees', async () => {
    const stores = new MemoryStores();
    await replicated(stores);
    const report = await runPass(passOptions(stores));
    expect(report.divergentKeys).toBe(0);
    expect(report.requests.total).toBe(0);
    expect(report.converged).toBe(true);
    expect(counts(report, 'dc-a')).toMatchObject({ scanned: 50, equal: 50, missing: 0, repaired: 0 });
  });

  it('copies a missing object from a datacenter that has it, with the same bytes and metadata', async () => {
    const stores = new MemoryStores();
    await replicated(stores);
    await putEverywhere(stores, 'new', 'fresh bytes', v(5000), ['dc-a', 'dc-b']);
    const report = await runPass(passOptions(stores));
    expect(counts(report, 'dc-c')).toMatchObject({ missing: 1, repaired: 1, failed: 0 });
    expect(bodyOf(stores.of('dc-c'), 'new')).toBe('fresh bytes');
    expect(stores.of('dc-c').peek('models/new')?.info.metadata).toEqual(stores.of('dc-a').peek('models/new')?.info.metadata);
    expect(stores.of('dc-c').peek('models/new')?.info.contentType).toBe('application/octet-stream');
    expect(report.bytesMoved).toBe('fresh bytes'.length);
  });

  it('replaces a stale version with the newest one', async () => {
    const stores = new MemoryStores();
    await replicated(stores);
    await putEverywhere(stores, 'ckpt', 'new', v(9000), ['dc-a', 'dc-c']);
    await putObject(stores.of('dc-b'), 'ckpt', 'old', v(8000));
    const report = await runPass(passOptions(stores));
    expect(counts(report, 'dc-b')).toMatchObject({ stale: 1, repaired: 1 });
    expect(bodyOf(stores.of('dc-b'), 'ckpt')).toBe('new');
    expect(versionOf(stores.of('dc-b'), 'ckpt')).toBe(formatVersion(v(9000)));
  });

  it('never deletes a newer put that carries the same bytes as an older copy a delete outranks', async () => {
    const stores = new MemoryStores();
    // Put v1 (bytes X), delete v2, put v3 with X again: dc-a missed both later updates, dc-c the last.
    await putObject(stores.of('dc-a'), 'k', 'X', v(1));
    await putObject(stores.of('dc-b'), 'k', 'X', v(3));
    await deleteObject(stores.of('dc-c'), 'k', v(2));
    const report = await runPass(passOptions(stores));
    expect(report.converged).toBe(true);
    for (const dc of DCS) {
      expect(bodyOf(stores.of(dc), 'k'), dc).toBe('X');
      expect(versionOf(stores.of(dc), 'k'), dc).toBe(formatVersion(v(3)));
    }
  });

  it('confirms inferred copies until none a repair would touch is left, so the newest of several same-bytes copies wins', async () => {
    const dcs = ['dc-a', 'dc-b', 'dc-c', 'dc-d'];
    const stores = new MemoryStores(dcs);
    // Content that went X, Y, X, Y: each datacenter holds one of them. Read one copy per ETag,
    // dc-b looks like v1 and dc-d like v3; confirming dc-b makes v5 win, which would overwrite dc-d's v7.
    await putObject(stores.of('dc-a'), 'k', 'X', v(1));
    await putObject(stores.of('dc-b'), 'k', 'X', v(5));
    await putObject(stores.of('dc-c'), 'k', 'Y', v(3));
    await putObject(stores.of('dc-d'), 'k', 'Y', v(7));
    const report = await runPass(passOptions(stores));
    expect(report.converged).toBe(true);
    for (const dc of dcs) expect([dc, bodyOf(stores.of(dc), 'k'), versionOf(stores.of(dc), 'k')]).toEqual([dc, 'Y', formatVersion(v(7))]);
  });

  it('deletes an object that a newer tombstone says must be gone, tombstone first', async () => {
    const stores = new MemoryStores();
    await replicated(stores);
    await putEverywhere(stores, 'gone', 'bytes', v(1000));
    await deleteObject(stores.of('dc-a'), 'gone', v(2000));
    await deleteObject(stores.of('dc-b'), 'gone', v(2000));
    const report = await runPass(passOptions(stores));
    expect(counts(report, 'dc-c')).toMatchObject({ shouldBeDeleted: 1, repaired: 1 });
    expect(bodyOf(stores.of('dc-c'), 'gone')).toBeUndefined();
    expect(hasTombstone(stores.of('dc-c'), 'gone')).toBe(true);
  });

  it('writes each repaired tombstone with a body of its own, so an expiry that listed another write cannot delete it', async () => {
    const stores = new MemoryStores();
    await putEverywhere(stores, 'gone', 'bytes', v(1000));
    await deleteObject(stores.of('dc-a'), 'gone', v(2000));
    await runPass(passOptions(stores));
    const tombstones = ['dc-a', 'dc-b', 'dc-c'].map((dc) => stores.of(dc).peek(tombstoneKeyOf(DATASET, 'gone'))?.info);
    expect(tombstones.map((t) => t?.metadata[META.version])).toEqual(Array(3).fill(formatVersion(v(2000))));
    // The same delete in three places, three writes: three ETags.
    expect(new Set(tombstones.map((t) => t?.etag)).size).toBe(3);
  });

  it('never resurrects a deleted key from an older copy', async () => {
    const stores = new MemoryStores();
    await putEverywhere(stores, 'k', 'old', v(1000));
    await deleteObject(stores.of('dc-a'), 'k', v(2000));
    await runPass(passOptions(stores));
    for (const dc of ['dc-a', 'dc-b', 'dc-c']) expect(bodyOf(stores.of(dc), 'k')).toBeUndefined();
  });

  it('repairs a versioned object overwritten by hand without metadata from the winner', async () => {
    const stores = new MemoryStores();
    await replicated(stores);
    await putEverywhere(stores, 'model.bin', 'real', v(3000));
    await putByHand(stores.of('dc-b'), 'model.bin', 'scribbled over');
    const report = await runPass(passOptions(stores));
    expect(counts(report, 'dc-b')).toMatchObject({ stale: 1, repaired: 1, unmanaged: 0 });
    expect(bodyOf(stores.of('dc-b'), 'model.bin')).toBe('real');
  });

  it('reports an unmanaged object and leaves it where it is by default', async () => {
    const stores = new MemoryStores();
    await replicated(stores);
    await putByHand(stores.of('dc-a'), 'stray.bin', 'who wrote this');
    const report = await runPass(passOptions(stores));
    expect(counts(report, 'dc-a')).toMatchObject({ unmanaged: 1, repaired: 0, notRepaired: 1 });
    expect(report.converged).toBe(false);
    expect(bodyOf(stores.of('dc-a'), 'stray.bin')).toBe('who wrote this');
    expect(bodyOf(stores.of('dc-b'), 'stray.bin')).toBeUndefined();
  });

  it('goes on past a key with a NUL (S3 allows it, a listing can hold it): reports it as unmanaged, named escaped', async () => {
    const stores = new MemoryStores();
    await replicated(stores);
    await putByHand(stores.of('dc-a'), 'stray\0.bin', 'written by another tool');
    const report = await runPass(passOptions(stores));
    expect(counts(report, 'dc-a')).toMatchObject({ unmanaged: 1, equal: 50 });
    expect(report.keys.map((k) => k.key)).toEqual(['stray\0.bin']);
    expect(renderPassReport(report)).toContain('  "stray\\u0000.bin"  [no version anywhere]  dc-a=unmanaged/skipped');
  });

  it('adopts an unmanaged object when asked: gives it a version and replicates it', async () => {
    const stores = new MemoryStores();
    await putByHand(stores.of('dc-a'), 'stray.bin', 'keep me');
    const report = await runPass(passOptions(stores, { unmanaged: 'adopt', now: () => 1_700_000_000_000 }));
    expect(counts(report, 'dc-a')).toMatchObject({ unmanaged: 1, repaired: 1 });
    expect(counts(report, 'dc-b')).toMatchObject({ missing: 1, repaired: 1 });
    for (const dc of ['dc-a', 'dc-b', 'dc-c']) {
      expect(bodyOf(stores.of(dc), 'stray.bin')).toBe('keep me');
      expect(versionOf(stores.of(dc), 'stray.bin')).toBe('0001700000000000.0000000000.shardsync-reconciler');
    }
    expect((await runPass(passOptions(stores))).divergentKeys).toBe(0);
  });

  it('never adopts an object whose key no producer could write, such as one under the reserved prefix', async () => {
    const stores = new MemoryStores();
    for (const key of ['.shardsync/tombstones/models/x', 'a/../b', 'a//b']) await putByHand(stores.of('dc-a'), key, 'by hand');
    const report = await runPass(passOptions(stores, { unmanaged: 'adopt' }));
    for (const key of ['.shardsync/tombstones/models/x', 'a/../b', 'a//b']) {
      // Adopted, it would be replicated everywhere, out of reach of the API that refuses its name.
      expect([key, versionOf(stores.of('dc-a'), key)]).toEqual([key, undefined]);
      for (const dc of ['dc-b', 'dc-c']) expect([key, dc, bodyOf(stores.of(dc), key)]).toEqual([key, dc, undefined]);
    }
    expect(report.failures.map((f) => f.code)).toEqual(Array(3).fill('SHARDSYNC_RECONCILE_INVALID_KEY'));
    expect(report.converged).toBe(false);
  });

  it('removes an unmanaged object only when asked to', async () => {
    const stores = new MemoryStores();
    await putByHand(stores.of('dc-b'), 'stray.bin', 'junk');
    const report = await runPass(passOptions(stores, { unmanaged: 'remove' }));
    expect(counts(report, 'dc-b')).toMatchObject({ unmanaged: 1, repaired: 1 });
    expect(bodyOf(stores.of('dc-b'), 'stray.bin')).toBeUndefined();
  });

  it('repairs every kind of divergence in one pass, after which a second pass finds nothing', async () => {
    const stores = new MemoryStores();
    await replicated(stores, 200);
    await stores.of('dc-a').delete('models/shard-1');
    await putObject(stores.of('dc-b'), 'shard-2', 'older', v(10));
    await deleteObject(stores.of('dc-a'), 'shard-3', v(99_000));
    await deleteObject(stores.of('dc-b'), 'shard-3', v(99_000));
    await putByHand(stores.of('dc-c'), 'shard-4', 'by hand');
    const first = await runPass(passOptions(stores));
    expect(first.divergentKeys).toBe(4);
    expect(first.converged).toBe(true);
    expect(first.totals).toMatchObject({ missing: 1, stale: 2, shouldBeDeleted: 1, repaired: 4, failed: 0 });
    const second = await runPass(passOptions(stores));
    expect(second.divergentKeys).toBe(0);
    expect(second.requests.total).toBe(0);
  });

  it('changes nothing in a dry run, and reports what it would do', async () => {
    const stores = new MemoryStores();
    await replicated(stores);
    await stores.of('dc-a').delete('models/shard-1');
    await putObject(stores.of('dc-b'), 'shard-2', 'older', v(10));
    await putByHand(stores.of('dc-c'), 'stray', 'x');
    const before = stores.snapshot();
    const report = await runPass(passOptions(stores, { dryRun: true, unmanaged: 'remove' }));
    expect(stores.snapshot()).toEqual(before);
    expect(report.converged).toBe(false);
    expect(report.totals).toMatchObject({ missing: 1, stale: 1, unmanaged: 1, repaired: 0, notRepaired: 3 });
    expect(report.keys.flatMap((k) => Object.values(k.copies).map((c) => c.result)).filter((r) => r !== undefined)).toEqual(['planned', 'planned', 'planned']);
  });

  it('writes only to the target datacenters and uses the others as sources', async () => {
    const stores = new MemoryStores();
    await putEverywhere(stores, 'a', 'A', v(100), ['dc-a']);
    await putEverywhere(stores, 'b', 'B', v(100), ['dc-b']);
    const report = await runPass(passOptions(stores, { targets: ['dc-c'] }));
    expect(bodyOf(stores.of('dc-c'), 'a')).toBe('A');
    expect(bodyOf(stores.of('dc-c'), 'b')).toBe('B');
    expect(bodyOf(stores.of('dc-a'), 'b')).toBeUndefined();
    expect(counts(report, 'dc-a')).toMatchObject({ missing: 1, notRepaired: 1 });
    expect(report.converged).toBe(false);
  });

  it('compares only keys under the prefix', async () => {
    const stores = new MemoryStores();
    await putEverywhere(stores, 'llama/1', 'x', v(1), ['dc-a']);
    await putEverywhere(stores, 'other/1', 'y', v(1), ['dc-a']);
    const report = await runPass(passOptions(stores, { prefix: 'llama/' }));
    expect(report.divergentKeys).toBe(1);
    expect(bodyOf(stores.of('dc-b'), 'llama/1')).toBe('x');
    expect(bodyOf(stores.of('dc-b'), 'other/1')).toBeUndefined();
  });

  it('makes at most 4 requests beyond listing per divergent key for missing, stale and deleted copies', async () => {
    const stores = new MemoryStores();
    await replicated(stores, 300);
    for (let i = 0; i < 10; i++) await stores.of(['dc-a', 'dc-b', 'dc-c'][i % 3] ?? 'dc-a').delete(`models/shard-${i}`);
    for (let i = 10; i < 20; i++) await putObject(stores.of('dc-b'), `shard-${i}`, 'older', v(1));
    for (let i = 20; i < 30; i++) {
      await deleteObject(stores.of('dc-a'), `shard-${i}`, v(50_000));
      await deleteObject(stores.of('dc-c'), `shard-${i}`, v(50_000));
    }
    const report = await runPass(passOptions(stores));
    expect(report.divergentKeys).toBe(30);
    expect(report.converged).toBe(true);
    expect(report.requestsPerDivergentKey).toBeLessThanOrEqual(4);
  });

  it('reports a key whose only copies are unreadable as failed, and the pass goes on', async () => {
    const stores = new MemoryStores();
    await replicated(stores);
    await putEverywhere(stores, 'x', 'x', v(5), ['dc-a']);
    stores.of('dc-a').injectFault({ operation: 'get', key: 'models/x', error: () => Object.assign(new Error('down'), { code: 'SHARDSYNC_STORE_UNAVAILABLE', retriable: true }), times: Infinity });
    const report = await runPass(passOptions(stores));
    expect(report.totals.failed).toBe(2);
    expect(report.failures[0]).toMatchObject({ key: 'x', code: 'SHARDSYNC_STORE_UNAVAILABLE', retriable: true });
    expect(report.converged).toBe(false);
  });
});
