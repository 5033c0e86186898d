import { formatVersion, META, tombstoneBody, tombstoneKeyOf, type Version } from '@shardsync/events';
import { describe, expect, it } from 'vitest';
import { runPass } from '../src/index.js';
import { bodyOf, DATASET, DCS, deleteObject, hasTombstone, MemoryStores, passOptions, putEverywhere, putObject, v } from './helpers.js';

const DAY = 24 * 3600 * 1000;

/** Writes a delete's tombstone and leaves the object: a consumer that died (or could not delete) between its two writes. */
async function tombstoneOnly(stores: MemoryStores, dc: string, key: string, version: Version, deletedAtMs = Date.now()): Promise<void> {
  await stores.of(dc).put(tombstoneKeyOf(DATASET, key), tombstoneBody(`event-${formatVersion(version)}`), {
    metadata: { [META.version]: formatVersion(version), [META.eventId]: `event-${formatVersion(version)}`, [META.deletedAtMs]: String(deletedAtMs) },
  });
}

describe('keys left with both an object and a tombstone', () => {
  it('deletes an object that its own datacenter\'s newer tombstone outranks, even when every datacenter is left that way', async () => {
    const stores = new MemoryStores();
    await putEverywhere(stores, 'k', 'X', v(100));
    // The delete v200 wrote its tombstone everywhere, but no datacenter managed to delete the object.
    for (const dc of DCS) await tombstoneOnly(stores, dc, 'k', v(200));
    const report = await runPass(passOptions(stores));
    for (const dc of DCS) {
      expect(bodyOf(stores.of(dc), 'k'), dc).toBeUndefined();
      expect(hasTombstone(stores.of(dc), 'k'), dc).toBe(true);
    }
    expect(report.converged).toBe(true);
  });

  it('does not let the deleted object come back once the tombstones expire', async () => {
    let nowMs = Date.now();
    const stores = new MemoryStores(DCS, () => ({ now: () => new Date(nowMs) }));
    await putEverywhere(stores, 'k', 'X', v(100));
    for (const dc of DCS) await tombstoneOnly(stores, dc, 'k', v(200), nowMs);
    // A pass that runs after the grace period still sees the tombstones the consumers have not swept yet.
    nowMs += 8 * DAY;
    await runPass(passOptions(stores, { now: () => nowMs }));
    for (const dc of DCS) expect(bodyOf(stores.of(dc), 'k'), dc).toBeUndefined();
  });

  it('removes a leftover tombstone that the object next to it outranks, even when every datacenter is left that way', async () => {
    const stores = new MemoryStores();
    await putEverywhere(stores, 'k', 'X', v(100));
    for (const dc of DCS) await deleteObject(stores.of(dc), 'k', v(200));
    // The put v300 was written everywhere, but no datacenter removed the tombstone it outranks.
    for (const dc of DCS) await stores.of(dc).put(tombstoneKeyOf(DATASET, 'k'), tombstoneBody('event-200'), { metadata: { [META.version]: formatVersion(v(200)), [META.deletedAtMs]: String(Date.now()) } });
    await putEverywhere(stores, 'k', 'Y', v(300));
    await runPass(passOptions(stores));
    for (const dc of DCS) {
      expect(bodyOf(stores.of(dc), 'k'), dc).toBe('Y');
      expect(hasTombstone(stores.of(dc), 'k'), dc).toBe(false);
    }
  });

  it('writes the winning tombstone where an older one sits next to an object the delete outranks', async () => {
    const stores = new MemoryStores();
    // dc-a and dc-c deleted the key at v400. dc-b applied delete v200, then put v300 over it
    // (object written, tombstone v200 not yet removed), and never got the delete v400.
    await deleteObject(stores.of('dc-a'), 'k', v(400));
    await deleteObject(stores.of('dc-c'), 'k', v(400));
    await deleteObject(stores.of('dc-b'), 'k', v(200));
    await putObject(stores.of('dc-b'), 'k', 'Y', v(300));
    const report = await runPass(passOptions(stores));
    expect(report.converged).toBe(true);
    for (const dc of DCS) {
      expect(bodyOf(stores.of(dc), 'k'), dc).toBeUndefined();
      // Otherwise dc-b keeps delete v200, and a put v300 delivered again (a redelivery, a dead
      // letter replayed) is applied there and skipped everywhere else.
      expect(stores.of(dc).peek(tombstoneKeyOf(DATASET, 'k'))?.info.metadata[META.version], dc).toBe(formatVersion(v(400)));
    }
  });
});
