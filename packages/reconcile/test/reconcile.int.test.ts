import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { formatVersion, META, objectKeyOf, tombstoneKeyOf, type Version } from '@shardsync/events';
import type { ObjectStore, PutOptions, PutResult } from '@shardsync/objectstore';
import { corruptObjectOnDisk } from '@shardsync/testing';
import { describe, expect, it } from 'vitest';
import { runPass, type PassOptions, type StoreLookup } from '../src/index.js';
import { bucketState, everything, rawDelete, rawPut, realStores, seed, seedDelete, sha256 } from './real-stores.js';

const DCS = ['dc-a', 'dc-b', 'dc-c'];
const MiB = 1024 * 1024;
const v = (ms: number): Version => ({ physicalMs: ms, logical: 0, producerId: 'producer-test' });

/** What a dataset holds in one datacenter, keyed by dataset key: version and SHA-256 of the bytes. */
function datasetView(state: Awaited<ReturnType<typeof bucketState>>, dataset: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, s] of Object.entries(state)) {
    if (key.startsWith(`${dataset}/`)) out[key.slice(dataset.length + 1)] = `${s.version ?? '(none)'} ${s.sha256}`;
    if (key.startsWith(tombstoneKeyOf(dataset, ''))) out[`(tombstone) ${key.slice(tombstoneKeyOf(dataset, '').length)}`] = s.version ?? '(none)';
  }
  return out;
}

describe('reconciliation against the real S3 servers', () => {
  it('repairs every kind of divergence injected behind shardsync\'s back in one pass; a dry run before changes nothing; a second pass finds nothing', async () => {
    const { topology, dataset, pool, bucketOf } = await realStores();
    for (let i = 0; i < 30; i++) await seed(pool, dataset, `shard-${i}.bin`, Buffer.from(`shard ${i} `.repeat(100)), v(1000 + i), DCS);
    const big = randomBytes(20 * MiB); // multipart: 16 MiB + 4 MiB parts
    await seed(pool, dataset, 'big.bin', big, v(5000), DCS);
    for (const key of ['missing.bin', 'stale.bin', 'rot.bin', 'deleted.bin', 'overwritten.bin']) await seed(pool, dataset, key, Buffer.from(`bytes of ${key}`), v(6000), DCS);

    await rawDelete('dc-b', bucketOf('dc-b'), objectKeyOf(dataset, 'missing.bin'));
    const old = Buffer.from('an older version');
    await rawPut('dc-c', bucketOf('dc-c'), objectKeyOf(dataset, 'stale.bin'), old, { [META.version]: formatVersion(v(10)), [META.sha256]: sha256(old), [META.eventId]: 'old' });
    await corruptObjectOnDisk('dc-a', bucketOf('dc-a'), objectKeyOf(dataset, 'big.bin'), 17 * MiB + 3);
    await corruptObjectOnDisk('dc-b', bucketOf('dc-b'), objectKeyOf(dataset, 'rot.bin'), 2);
    await seedDelete(pool, dataset, 'deleted.bin', v(7000), ['dc-a', 'dc-b']);
    await rawPut('dc-a', bucketOf('dc-a'), objectKeyOf(dataset, 'overwritten.bin'), Buffer.from('scribbled by hand'));
    await rawPut('dc-c', bucketOf('dc-c'), objectKeyOf(dataset, 'stray.bin'), Buffer.from('nobody told shardsync'));

    const options: PassOptions = { topology, stores: pool, dataset, deep: true, unmanaged: 'adopt' };
    const before = await everything(topology);
    const dry = await runPass({ ...options, dryRun: true });
    expect(await everything(topology)).toEqual(before);
    const dc = (name: string) => dry.perDatacenter.find((c) => c.datacenter === name);
    expect(dc('dc-a')).toMatchObject({ corrupt: 1, stale: 1, repaired: 0 });
    expect(dc('dc-b')).toMatchObject({ missing: 1, corrupt: 1, repaired: 0 });
    expect(dc('dc-c')).toMatchObject({ stale: 1, shouldBeDeleted: 1, unmanaged: 1, repaired: 0 });
    expect(dry.converged).toBe(false);

    const pass = await runPass(options);
    expect(pass.failures).toEqual([]);
    expect(pass.converged).toBe(true);
    expect(pass.totals).toMatchObject({ missing: 3, stale: 2, corrupt: 2, shouldBeDeleted: 1, unmanaged: 1, failed: 0 });
    expect(pass.bytesMoved).toBeGreaterThanOrEqual(20 * MiB);

    const after = await everything(topology);
    const views = DCS.map((name) => datasetView(after[name] ?? {}, dataset));
    expect(views[1]).toEqual(views[0]);
    expect(views[2]).toEqual(views[0]);
    expect(views[0]?.['big.bin']).toBe(`${formatVersion(v(5000))} ${sha256(big)}`);
    expect(views[0]?.['stray.bin']).toMatch(/shardsync-reconciler/);
    expect(views[0]?.['deleted.bin']).toBeUndefined();
    expect(views[0]?.['(tombstone) deleted.bin']).toBe(formatVersion(v(7000)));

    const second = await runPass(options);
    expect(second.divergentKeys).toBe(0);
    expect(second.requests.total).toBe(0);
  });

  it('reports an unmanaged object and never deletes it unless told to remove it', async () => {
    const { topology, dataset, pool, bucketOf } = await realStores();
    await seed(pool, dataset, 'a.bin', Buffer.from('a'), v(1), DCS);
    await rawPut('dc-b', bucketOf('dc-b'), objectKeyOf(dataset, 'stray.bin'), Buffer.from('hand made'));
    const reported = await runPass({ topology, stores: pool, dataset });
    expect(reported.totals).toMatchObject({ unmanaged: 1, repaired: 0, notRepaired: 1 });
    expect(Object.keys(await bucketState('dc-b', bucketOf('dc-b')))).toContain(objectKeyOf(dataset, 'stray.bin'));
    const removed = await runPass({ topology, stores: pool, dataset, unmanaged: 'remove' });
    expect(removed.totals).toMatchObject({ unmanaged: 1, repaired: 1 });
    expect(Object.keys(await bucketState('dc-b', bucketOf('dc-b')))).not.toContain(objectKeyOf(dataset, 'stray.bin'));
  });

  it('a repair racing a newer consumer apply never loses the newer version', async () => {
    const { topology, dataset, pool, bucketOf } = await realStores();
    await seed(pool, dataset, 'race.bin', Buffer.from('version one'), v(100), ['dc-a', 'dc-b']);
    const newer = Buffer.from('version two, applied by the consumer of dc-c');
    // Right before the reconciler writes into dc-c, dc-c's consumer applies a newer version.
    const stores: StoreLookup = {
      of: (dc) => (dc === 'dc-c' ? racing(pool.of(dc), objectKeyOf(dataset, 'race.bin'), () => seed(pool, dataset, 'race.bin', newer, v(200), ['dc-c'])) : pool.of(dc)),
    };
    const report = await runPass({ topology, stores, dataset });
    expect(report.converged).toBe(true);
    for (const name of DCS) {
      const state = await bucketState(name, bucketOf(name));
      expect(state[objectKeyOf(dataset, 'race.bin')]).toMatchObject({ version: formatVersion(v(200)), sha256: sha256(newer) });
    }
  });

  it('needs at most 4 requests beyond listing per divergent key on a routine pass', async () => {
    const { topology, dataset, pool, bucketOf } = await realStores();
    for (let i = 0; i < 200; i++) await seed(pool, dataset, `k${i}`, Buffer.from(`k${i}`), v(1 + i), DCS);
    for (let i = 0; i < 6; i++) await rawDelete(DCS[i % 3] ?? 'dc-a', bucketOf(DCS[i % 3] ?? 'dc-a'), objectKeyOf(dataset, `k${i}`));
    const report = await runPass({ topology, stores: pool, dataset });
    expect(report.divergentKeys).toBe(6);
    expect(report.converged).toBe(true);
    expect(report.requestsPerDivergentKey).toBeLessThanOrEqual(4);
  });
});

/** A store whose first put() of `key` is preceded by `before()`, to stage a race with a consumer deterministically. */
function racing(inner: ObjectStore, key: string, before: () => Promise<void>): ObjectStore {
  let armed = true;
  return {
    datacenter: inner.datacenter,
    bucket: inner.bucket,
    ping: (signal) => inner.ping(signal),
    head: (k, o) => inner.head(k, o),
    get: (k, o) => inner.get(k, o),
    copy: (from, to, o) => inner.copy(from, to, o),
    delete: (k, o) => inner.delete(k, o),
    list: (o) => inner.list(o),
    listUploads: (o) => inner.listUploads(o),
    abortUpload: (k, id, o) => inner.abortUpload(k, id, o),
    close: () => Promise.resolve(),
    put: async (k: string, body: Readable | Uint8Array, options?: PutOptions): Promise<PutResult> => {
      if (armed && k === key) {
        armed = false;
        await before();
      }
      return inner.put(k, body, options);
    },
  };
}
