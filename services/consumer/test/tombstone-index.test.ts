import { describe, expect, it } from 'vitest';
import { formatVersion, META, objectKeyOf, TOMBSTONE_PREFIX, tombstoneKeyOf, type ShardUpdate, type Version } from '@shardsync/events';
import { MemoryObjectStore, StoreUnavailableError, type MemoryObjectStoreOptions } from '@shardsync/objectstore';
import { Applier } from '../src/apply/applier.js';
import { TransferSlots } from '../src/apply/transfer-slots.js';
import { LocalState } from '../src/state/local-state.js';
import { TombstoneIndex } from '../src/state/tombstone-index.js';
import { put } from './applier-fixtures.js';

const HOUR = 3600_000;
const v = (physicalMs: number): Version => ({ physicalMs, logical: 0, producerId: 'p1' });

function del(key: string, version: Version): ShardUpdate {
  return { eventId: `d-${key}-${version.physicalMs}`, dataset: 'ds', key, operation: 'DELETE', version, size: 0, sha256: null, payload: null, originDatacenter: 'dc-a', producerId: version.producerId, producedAtMs: 0, metadata: {} };
}

describe('TombstoneIndex', () => {
  it('a reload indexes the tombstones within the grace period and deletes the older ones', async () => {
    let now = 0;
    const store = new MemoryObjectStore({ now: () => new Date(now) });
    for (let i = 0; i < 20; i += 1) await store.put(tombstoneKeyOf('ds', `old-${i}`), Buffer.alloc(0));
    now = 10 * HOUR;
    await store.put(tombstoneKeyOf('ds', 'recent'), Buffer.alloc(0));
    await store.put('ds/live-object', Buffer.from('x'));

    const index = new TombstoneIndex(store, 5 * HOUR);
    expect(await index.reload(now + HOUR)).toEqual({ loaded: 1, expired: 20 });
    expect(index.has('ds', 'recent')).toBe(true);
    expect(index.has('ds', 'old-0')).toBe(false);
    expect(store.keys().sort()).toEqual(['ds/live-object', tombstoneKeyOf('ds', 'recent')].sort());
  });

  it('a reload keeps indexed an expired tombstone that another writer (a reconciler repair) wrote again after the listing', async () => {
    let now = 0;
    const key = tombstoneKeyOf('ds', 'k');
    let rewrite = true;
    const store: MemoryObjectStore = new MemoryObjectStore({
      now: () => new Date(now),
      // Between the reload's listing and its delete, a repair writes the key's tombstone again
      // (straight into the store: nothing tells the index, as nothing does for a reconciler).
      beforeOperation: async (operation, k) => {
        if (operation === 'delete' && k === key && rewrite) {
          rewrite = false;
          await store.put(key, Buffer.from('repair'), { metadata: { [META.version]: formatVersion(v(10 * HOUR)) } });
        }
      },
    });
    await store.put(key, Buffer.alloc(0), { metadata: { [META.version]: formatVersion(v(0)) } });
    now = 10 * HOUR;
    const index = new TombstoneIndex(store, 5 * HOUR);

    expect(await index.reload(now)).toEqual({ loaded: 1, expired: 0 });
    expect(rewrite).toBe(false);
    expect(store.peek(key)?.info.metadata[META.version]).toBe(formatVersion(v(10 * HOUR)));
    // Indexed: a late, older put of the key reads it and stays refused.
    expect(index.has('ds', 'k')).toBe(true);
  });

  it('an older reload finishing after a newer one does not replace its keys', async () => {
    let now = 0;
    let release = (): void => undefined;
    let deletes = 0;
    const store = new MemoryObjectStore({
      now: () => new Date(now),
      beforeOperation: async (operation) => {
        // The first reload's expiry is held until the second reload has finished.
        if (operation === 'delete' && ++deletes === 1) await new Promise<void>((resolve) => (release = resolve));
      },
    });
    await store.put(tombstoneKeyOf('ds', 'expired'), Buffer.alloc(0));
    now = 10 * HOUR;
    const index = new TombstoneIndex(store, HOUR);
    const first = index.reload(now);
    await expect.poll(() => deletes).toBe(1);
    // Seen by the second listing only.
    await store.put(tombstoneKeyOf('ds', 'written-meanwhile'), Buffer.alloc(0));
    await index.reload(now);
    expect(index.has('ds', 'written-meanwhile')).toBe(true);
    release();
    await first;
    expect(index.has('ds', 'written-meanwhile')).toBe(true);
  });
});

function gate(): { wait: Promise<void>; release: () => void } {
  let release = (): void => undefined;
  const wait = new Promise<void>((resolve) => (release = resolve));
  return { wait, release };
}

describe('TombstoneIndex.sweep', () => {
  /** A store, an index over it and the applier that writes its tombstones, on one clock. */
  function setup(beforeOperation?: MemoryObjectStoreOptions['beforeOperation']) {
    const clock = { now: 0 };
    const store = new MemoryObjectStore({ datacenter: 'dc-b', bucket: 'b', now: () => new Date(clock.now), beforeOperation });
    const index = new TombstoneIndex(store, 5 * HOUR);
    const applier = new Applier({
      local: store,
      state: new LocalState(store, index, 100),
      tombstones: index,
      storeFor: () => store,
      peersOf: () => [],
      onBytes: () => undefined,
      slots: new TransferSlots(1),
      now: () => clock.now,
    });
    return { clock, store, index, applier };
  }

  it('deletes the tombstones past the grace period without a reload, and the index forgets them', async () => {
    const { clock, store, index, applier } = setup();
    for (let i = 0; i < 3; i += 1) await applier.apply(del(`old-${i}`, v(i + 1)));
    clock.now = 10 * HOUR;
    await applier.apply(del('recent', v(100)));

    expect(await index.sweep(clock.now + HOUR)).toEqual({ expired: 3, rewritten: 0, failed: 0 });
    expect(store.keys().filter((k) => k.startsWith(TOMBSTONE_PREFIX))).toEqual([tombstoneKeyOf('ds', 'recent')]);
    expect(index.has('ds', 'old-0')).toBe(false);
    expect(index.has('ds', 'recent')).toBe(true);
  });

  it('keeps a tombstone that a delete wrote again after the sweep listed it, and keeps it indexed', async () => {
    const key = tombstoneKeyOf('ds', 'k');
    let rewrite: (() => Promise<unknown>) | undefined;
    const { clock, store, index, applier } = setup(async (operation, k) => {
      // The batch applies a newer delete of the key between the sweep's listing and its delete.
      if (operation === 'delete' && k === key && rewrite !== undefined) {
        const run = rewrite;
        rewrite = undefined;
        await run();
      }
    });
    await applier.apply(del('k', v(1)));
    clock.now = 10 * HOUR;
    rewrite = () => applier.apply(del('k', v(2)));

    expect(await index.sweep(clock.now)).toEqual({ expired: 0, rewritten: 1, failed: 0 });
    expect(rewrite).toBeUndefined();
    expect(store.peek(key)?.info.metadata[META.version]).toBe(formatVersion(v(2)));
    expect(index.has('ds', 'k')).toBe(true);
  });

  it('a failed delete leaves the tombstone indexed, for the next sweep to try again', async () => {
    const { clock, store, index, applier } = setup();
    await applier.apply(del('k', v(1)));
    clock.now = 10 * HOUR;
    store.injectFault({ operation: 'delete', error: new StoreUnavailableError('injected') });

    const failed = await index.sweep(clock.now);
    expect(failed).toMatchObject({ expired: 0, rewritten: 0, failed: 1 });
    expect(failed?.error).toBeInstanceOf(StoreUnavailableError);
    expect(index.has('ds', 'k')).toBe(true);
    expect(await index.sweep(clock.now)).toEqual({ expired: 1, rewritten: 0, failed: 0 });
    expect(index.has('ds', 'k')).toBe(false);
  });

  it('does nothing while a reload runs', async () => {
    let release = (): void => undefined;
    let hold = true;
    const { clock, index, applier, store } = setup(async (operation) => {
      if (operation === 'list' && hold) await new Promise<void>((resolve) => (release = resolve));
    });
    hold = false;
    await applier.apply(del('k', v(1)));
    clock.now = 10 * HOUR;
    hold = true;
    const reloading = index.reload(clock.now);
    expect(await index.sweep(clock.now)).toBeUndefined();
    hold = false;
    release();
    expect(await reloading).toEqual({ loaded: 0, expired: 1 });
    expect(store.keys()).toEqual([]);
  });

  it('stops at its next key when a reload begins, and the reload lists only once the sweep has stopped', async () => {
    const held = gate();
    /** How many tombstones each listing starts with. */
    const listed: number[] = [];
    let deletesHeld = 0;
    const { clock, index, applier, store } = setup(async (operation) => {
      if (operation === 'list') listed.push(store.keys().length);
      if (operation === 'delete' && clock.now > 0) {
        deletesHeld += 1;
        await held.wait;
      }
    });
    for (let i = 0; i < 20; i += 1) await applier.apply(del(`old-${i}`, v(i + 1)));
    clock.now = 10 * HOUR;

    const sweeping = index.sweep(clock.now);
    // The sweep has listed and its first deletes are in flight.
    await expect.poll(() => deletesHeld).toBeGreaterThan(0);
    const reloading = index.reload(clock.now);
    held.release();
    const swept = await sweeping;
    const reloaded = await reloading;

    expect(swept?.expired).toBeGreaterThan(0);
    expect(swept?.expired).toBeLessThan(20);
    expect(reloaded).toEqual({ loaded: 0, expired: 20 - (swept?.expired ?? 0) });
    // The reload listed after the sweep's deletes in flight had ended, not in between.
    expect(listed).toEqual([20, 20 - (swept?.expired ?? 0)]);
    expect(store.keys()).toEqual([]);
  });

  it('a sweep whose listing fails does not fail the reload waiting for it', async () => {
    const held = gate();
    let lists = 0;
    const { clock, index, applier } = setup(async (operation) => {
      if (operation === 'list' && ++lists === 1) {
        await held.wait;
        throw new StoreUnavailableError('injected');
      }
    });
    await applier.apply(del('k', v(1)));
    clock.now = 10 * HOUR;
    const sweeping = index.sweep(clock.now);
    await expect.poll(() => lists).toBe(1);
    const reloading = index.reload(clock.now);
    held.release();
    await expect(sweeping).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(await reloading).toEqual({ loaded: 0, expired: 1 });
  });
});

describe('TombstoneIndex.reload while a batch applies', () => {
  const OBJECT = objectKeyOf('ds', 'a');
  const TOMBSTONE = tombstoneKeyOf('ds', 'a');
  const held = { fence: { held: () => true } };

  /**
   * A store listing one key per page, whose listing can be held before its second page: by then
   * the listing is past the tombstone of key `a` (tombstones of `b` and `c` sort after it). The
   * state cache holds one key, so applying another key makes the consumer forget `a`'s state, as
   * a busy consumer does.
   */
  async function setup() {
    let holdList: { wait: Promise<void>; release: () => void } | undefined;
    let pages = 0;
    const requests: string[] = [];
    const store = new MemoryObjectStore({
      datacenter: 'dc-b',
      bucket: 'b',
      listPageSize: 1,
      beforeOperation: async (operation, key) => {
        requests.push(`${operation} ${key ?? ''}`);
        if (operation !== 'list' || holdList === undefined) return;
        pages += 1;
        if (pages === 2) await holdList.wait;
      },
    });
    const index = new TombstoneIndex(store, HOUR);
    const applier = new Applier({ local: store, state: new LocalState(store, index, 1), tombstones: index, storeFor: () => store, peersOf: () => [], onBytes: () => undefined, slots: new TransferSlots(1) });
    for (const key of ['b', 'c']) await applier.apply(del(key, v(1)));
    await index.reload();
    /** Starts a reload and resolves once its listing has gone past key `a`, held there until `release()`. */
    const reloadHeldPastA = async () => {
      const hold = gate();
      holdList = hold;
      pages = 0;
      const reloading = index.reload();
      await expect.poll(() => pages).toBe(2);
      return {
        release: async () => {
          hold.release();
          holdList = undefined;
          return reloading;
        },
      };
    };
    return { store, index, applier, requests, reloadHeldPastA };
  }

  it('keeps indexed a tombstone a delete wrote after the reload listed past its key, so a late older put stays deleted', async () => {
    const { store, index, applier, reloadHeldPastA } = await setup();
    await applier.apply(put('a', v(5), 'five'));

    const reload = await reloadHeldPastA();
    expect(await applier.apply(del('a', v(9)))).toMatchObject({ result: 'applied' });
    expect(await reload.release()).toEqual({ loaded: 3, expired: 0 });
    expect(index.has('ds', 'a')).toBe(true);

    // Another key pushes `a` out of the state cache; then a replay of put v7 arrives.
    await applier.apply(put('z', v(1), 'z'), undefined, held.fence);
    expect(await applier.apply(put('a', v(7), 'seven'), undefined, held.fence)).toEqual({ result: 'skipped', reason: 'stale' });
    expect(store.peek(OBJECT)).toBeUndefined();
    expect(store.peek(TOMBSTONE)?.info.metadata[META.version]).toBe(formatVersion(v(9)));
  });

  it('a tombstone a put removed while the reload ran costs the next put of the key one read, and never refuses it', async () => {
    const { store, index, applier, requests, reloadHeldPastA } = await setup();
    await applier.apply(del('a', v(3)));
    await index.reload();

    const reload = await reloadHeldPastA();
    expect(await applier.apply(put('a', v(8), 'eight'), undefined, held.fence)).toMatchObject({ result: 'applied' });
    await reload.release();
    // The listing showed the tombstone the put then removed: the index holds it, stale.
    expect(index.has('ds', 'a')).toBe(true);

    await applier.apply(put('z', v(1), 'z'), undefined, held.fence);
    requests.length = 0;
    expect(await applier.apply(put('a', v(9), 'nine'), undefined, held.fence)).toMatchObject({ result: 'applied' });
    expect(requests.sort()).toEqual([`head ${OBJECT}`, `head ${TOMBSTONE}`, `put ${OBJECT}`].sort());
    expect(store.peek(OBJECT)?.info.metadata[META.version]).toBe(formatVersion(v(9)));
    expect(store.peek(TOMBSTONE)).toBeUndefined();
    expect(index.has('ds', 'a')).toBe(false);
  });
});
