import { describe, expect, it } from 'vitest';
import { formatVersion, META, objectKeyOf, tombstoneKeyOf } from '@shardsync/events';
import { sha256Hex } from '@shardsync/integrity';
import { MemoryObjectStore, PreconditionFailedError, StoreUnavailableError } from '@shardsync/objectstore';
import { Applier } from '../src/apply/applier.js';
import { TransferSlots } from '../src/apply/transfer-slots.js';
import { LocalState } from '../src/state/local-state.js';
import { TombstoneIndex } from '../src/state/tombstone-index.js';
import { body, del, put, v } from './applier-fixtures.js';

describe('Applier: a key left with both an object and a tombstone, and writers racing on it', () => {
  const OBJECT = objectKeyOf('ds', 'a');
  const TOMBSTONE = tombstoneKeyOf('ds', 'a');
  const versionOf = (store: MemoryObjectStore, key: string) => store.peek(key)?.info.metadata[META.version];

  /** One consumer instance over `local`: its own index (loaded now) and cache, as after an assignment. */
  async function instance(local: MemoryObjectStore): Promise<Applier> {
    const tombstones = new TombstoneIndex(local, 60_000);
    await tombstones.reload();
    return new Applier({ local, state: new LocalState(local, tombstones, 1000), tombstones, storeFor: () => local, peersOf: () => [], onBytes: () => undefined, slots: new TransferSlots(4) });
  }

  /** A store that holds the first write of `key` until `release()`, telling `reached` when it is there. */
  function holdingStore(key: string) {
    let release!: () => void;
    let reached!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const arrived = new Promise<void>((r) => (reached = r));
    let held = false;
    const local = new MemoryObjectStore({
      datacenter: 'dc-b',
      bucket: 'b',
      beforeOperation: async (operation, k) => {
        if (operation !== 'put' || k !== key || held) return;
        held = true;
        reached();
        await released;
      },
    });
    return { local, release, arrived };
  }

  it('a delete killed between its tombstone and the object delete is finished by its redelivery', async () => {
    const local = new MemoryObjectStore({ datacenter: 'dc-b', bucket: 'b' });
    const first = await instance(local);
    await first.apply(put('a', v(5), 'five'));
    const removeFault = local.injectFault({ operation: 'delete', key: OBJECT, error: () => new StoreUnavailableError('killed'), times: 1 });
    await expect(first.apply(del('a', v(9)))).rejects.toThrow('killed');
    removeFault();
    expect(versionOf(local, OBJECT)).toBe(formatVersion(v(5)));

    const restarted = await instance(local);
    expect(await restarted.apply(del('a', v(9)))).toEqual({ result: 'skipped', reason: 'duplicate' });
    expect(local.peek(OBJECT)).toBeUndefined();
    expect(versionOf(local, TOMBSTONE)).toBe(formatVersion(v(9)));
  });

  it('a put killed before it removed the older tombstone is finished by its redelivery', async () => {
    const local = new MemoryObjectStore({ datacenter: 'dc-b', bucket: 'b' });
    const first = await instance(local);
    await first.apply(del('a', v(3)));
    const removeFault = local.injectFault({ operation: 'delete', key: TOMBSTONE, error: () => new StoreUnavailableError('killed'), times: 1 });
    await expect(first.apply(put('a', v(8), 'eight'))).rejects.toThrow('killed');
    removeFault();

    const restarted = await instance(local);
    expect(await restarted.apply(put('a', v(8), 'eight'))).toEqual({ result: 'skipped', reason: 'duplicate' });
    expect(local.peek(TOMBSTONE)).toBeUndefined();
    expect(await body(local, OBJECT)).toBe('eight');
  });

  it('a put whose removal of the older tombstone failed is finished by its retry in the same process', async () => {
    const local = new MemoryObjectStore({ datacenter: 'dc-b', bucket: 'b' });
    const applier = await instance(local);
    await applier.apply(del('a', v(3)));
    const removeFault = local.injectFault({ operation: 'delete', key: TOMBSTONE, error: () => new StoreUnavailableError('blip'), times: 1 });
    await expect(applier.apply(put('a', v(8), 'eight'))).rejects.toThrow('blip');
    removeFault();
    expect(await applier.apply(put('a', v(8), 'eight'))).toEqual({ result: 'skipped', reason: 'duplicate' });
    expect(local.peek(TOMBSTONE)).toBeUndefined();
    expect(await body(local, OBJECT)).toBe('eight');
  });

  it('a delete replaces a tombstone without a readable version (written by hand) instead of meeting it forever', async () => {
    const local = new MemoryObjectStore({ datacenter: 'dc-b', bucket: 'b' });
    await local.put(TOMBSTONE, Buffer.from('by hand'), { metadata: { [META.version]: 'not a version' } });
    const applier = await instance(local);
    expect(await applier.apply(del('a', v(9)))).toMatchObject({ result: 'applied' });
    expect(versionOf(local, TOMBSTONE)).toBe(formatVersion(v(9)));
  });

  it('an older put that finishes after a newer delete of another instance removes neither the tombstone nor lets the object stay', async () => {
    const { local, release, arrived } = holdingStore(OBJECT);
    const setupInstance = await instance(local);
    await setupInstance.apply(del('a', v(5)));
    // A member that lost the partition is still writing put v8 when the new owner applies delete v9.
    const zombie = await instance(local);
    const owner = await instance(local);
    const zombiePut = zombie.apply(put('a', v(8), 'eight'));
    await arrived;
    expect(await owner.apply(del('a', v(9)))).toMatchObject({ result: 'applied' });
    release();
    expect(await zombiePut).toEqual({ result: 'skipped', reason: 'stale' });
    expect(local.peek(OBJECT)).toBeUndefined();
    expect(versionOf(local, TOMBSTONE)).toBe(formatVersion(v(9)));
  });

  it.each([
    // No tombstone anywhere: the zombie's put is a conditional create, which cannot see the tombstone key.
    ['with no tombstone', undefined],
    // A tombstone without a readable version decides nothing, and a put leaves it where it is; the
    // new owner's delete replaces it with its own (If-Match on it).
    ['over a tombstone written by hand', 'not a version'],
  ])("a put that outlived its member's hold on the partition (%s) removes itself when the new owner applied a newer delete meanwhile", async (_case, handWritten) => {
    const { local, release, arrived } = holdingStore(OBJECT);
    if (handWritten !== undefined) await local.put(TOMBSTONE, Buffer.from('by hand'), { metadata: { [META.version]: handWritten } });
    const zombie = await instance(local);
    const owner = await instance(local);
    let held = true;
    const zombiePut = zombie.apply(put('a', v(8), 'eight'), undefined, { held: () => held });
    await arrived;
    expect(await owner.apply(del('a', v(9)))).toMatchObject({ result: 'applied' });
    held = false; // its session ran out while it wrote
    release();
    expect(await zombiePut).toEqual({ result: 'skipped', reason: 'stale' });
    expect(local.peek(OBJECT)).toBeUndefined();
    expect(versionOf(local, TOMBSTONE)).toBe(formatVersion(v(9)));
  });

  it('a put that outlived its hold, after which only a hand-written tombstone is there (no newer delete), stays applied', async () => {
    const local = new MemoryObjectStore({ datacenter: 'dc-b', bucket: 'b' });
    // The hand-written tombstone alone, still there after the write, is no newer delete.
    const other = tombstoneKeyOf('ds', 'b');
    await local.put(other, Buffer.from('by hand'), { metadata: { [META.version]: 'not a version' } });
    const late = await instance(local);
    expect(await late.apply(put('b', v(8), 'eight'), undefined, { held: () => false })).toMatchObject({ result: 'applied' });
  });

  it('an object that keeps changing under a delete is a retriable conflict, never a dead letter, and the delete finishes once it holds still', async () => {
    const local = new MemoryObjectStore({ datacenter: 'dc-b', bucket: 'b' });
    const applier = await instance(local);
    await applier.apply(put('a', v(1), 'one'));
    // Every conditional delete of the object finds another ETag than the one just read.
    const removeFault = local.injectFault({ operation: 'delete', key: OBJECT, error: () => new PreconditionFailedError('changed meanwhile'), times: 1000 });
    await expect(applier.apply(del('a', v(3)))).rejects.toMatchObject({ retriable: true });
    removeFault();
    await applier.apply(del('a', v(3)));
    expect(local.peek(OBJECT)).toBeUndefined();
    expect(versionOf(local, TOMBSTONE)).toBe(formatVersion(v(3)));
  });

  it('a put under a held fence makes no request beyond its write', async () => {
    const requests: string[] = [];
    const local = new MemoryObjectStore({ datacenter: 'dc-b', bucket: 'b', beforeOperation: (operation, key) => void requests.push(`${operation} ${key ?? ''}`) });
    const applier = await instance(local);
    requests.length = 0;
    await applier.apply(put('a', v(8), 'eight'), undefined, { held: () => true });
    expect(requests).toEqual([`put ${OBJECT}`]);
    requests.length = 0;
    await applier.apply(put('b', v(8), 'eight'), undefined, { held: () => false });
    expect(requests).toEqual([`put ${objectKeyOf('ds', 'b')}`, `head ${tombstoneKeyOf('ds', 'b')}`]);
  });

  it('a delete of a key it saw no object of keeps a newer object a repair copied in before its object step', async () => {
    let tombstoneWritten = false;
    let interfered = false;
    const local: MemoryObjectStore = new MemoryObjectStore({
      datacenter: 'dc-b',
      bucket: 'b',
      beforeOperation: async (operation, key) => {
        if (operation === 'put' && key === TOMBSTONE) tombstoneWritten = true;
        else if (tombstoneWritten && !interfered && key === OBJECT) {
          interfered = true;
          // The reconciler copies the winning put v5 in (its own tombstone check ran before ours was written).
          await local.put(OBJECT, Buffer.from('five'), { metadata: { [META.version]: formatVersion(v(5)), [META.sha256]: sha256Hex('five') }, ifNoneMatch: '*' });
        }
      },
    });
    const applier = await instance(local);
    expect(await applier.apply(del('a', v(3)))).toMatchObject({ result: 'applied' });
    expect(interfered).toBe(true);
    expect(await body(local, OBJECT)).toBe('five');
  });

  it('an older delete never replaces a newer tombstone written meanwhile', async () => {
    const { local, release, arrived } = holdingStore(TOMBSTONE);
    const setupInstance = await instance(local);
    await setupInstance.apply(put('a', v(1), 'one'));
    const zombie = await instance(local);
    const owner = await instance(local);
    const zombieDelete = zombie.apply(del('a', v(7)));
    await arrived; // decided on {object v1}, its tombstone write held
    expect(await owner.apply(del('a', v(9)))).toMatchObject({ result: 'applied' });
    release();
    expect(await zombieDelete).toEqual({ result: 'skipped', reason: 'stale' });
    expect(versionOf(local, TOMBSTONE)).toBe(formatVersion(v(9)));
    // So a late put between the two deletes stays refused.
    expect(await (await instance(local)).apply(put('a', v(8), 'eight'))).toEqual({ result: 'skipped', reason: 'stale' });
    expect(local.peek(OBJECT)).toBeUndefined();
  });

  it('a tombstone a reconciler repair wrote after the index loaded is obeyed by the delete that follows, after a rebalance too', async () => {
    const local = new MemoryObjectStore({ datacenter: 'dc-b', bucket: 'b' });
    const lagging = await instance(local);
    // The reconciler copies delete v9 into this datacenter before its consumer got there.
    await local.put(TOMBSTONE, Buffer.from('repair'), { metadata: { [META.version]: formatVersion(v(9)), [META.eventId]: 'r', [META.deletedAtMs]: String(Date.now()) }, ifNoneMatch: '*' });
    // The partition holds put v8, then delete v9: the put of the partition's owner lands (the
    // index does not know the tombstone yet, and the owner does not look) ...
    expect(await lagging.apply(put('a', v(8), 'eight'), undefined, { held: () => true })).toMatchObject({ result: 'applied' });
    // ... and the delete, applied by the next owner after a rebalance, removes it.
    expect(await (await instance(local)).apply(del('a', v(9)))).toEqual({ result: 'skipped', reason: 'duplicate' });
    expect(local.peek(OBJECT)).toBeUndefined();
    expect(versionOf(local, TOMBSTONE)).toBe(formatVersion(v(9)));
  });
});
