import { compareVersions, META, objectKeyOf, tombstoneKeyOf, versionInMetadata, type Version } from '@shardsync/events';
import { comparableEtag, sameEtag, type ObjectInfo, type ObjectStore } from '@shardsync/objectstore';
import type { CopyState, ListedState, ObjectCopy, ObservedInfo, TombstoneCopy } from './model.js';


/** An object's state from what a HEAD or GET returned. */
export function objectCopyOf(info: ObservedInfo, integrity: ObjectCopy['integrity'] = 'unchecked'): ObjectCopy {
  return {
    etag: info.etag,
    size: info.size,
    lastModifiedMs: info.lastModifiedMs,
    version: versionInMetadata(info.metadata),
    sha256: info.metadata[META.sha256]?.toLowerCase(),
    metadata: info.metadata,
    contentType: info.contentType,
    integrity,
  };
}

/** A tombstone's state from what a HEAD returned. */
export function tombstoneCopyOf(info: ObservedInfo): TombstoneCopy {
  const deletedAt = Number(info.metadata[META.deletedAtMs]);
  return { version: versionInMetadata(info.metadata), metadata: info.metadata, deletedAtMs: Number.isSafeInteger(deletedAt) && deletedAt > 0 ? deletedAt : info.lastModifiedMs };
}

/** {@link ObjectInfo} in the JSON-friendly form the model uses. */
export function observed(info: ObjectInfo): ObservedInfo {
  return { etag: info.etag, size: info.size, lastModifiedMs: info.lastModified.getTime(), metadata: info.metadata, contentType: info.contentType };
}

async function headObject(store: ObjectStore, dataset: string, key: string, signal: AbortSignal | undefined): Promise<ObjectCopy | undefined> {
  const info = await store.head(objectKeyOf(dataset, key), { signal });
  return info === undefined ? undefined : objectCopyOf(observed(info));
}

async function headTombstone(store: ObjectStore, dataset: string, key: string, signal: AbortSignal | undefined): Promise<TombstoneCopy | undefined> {
  const info = await store.head(tombstoneKeyOf(dataset, key), { signal });
  return info === undefined ? undefined : tombstoneCopyOf(observed(info));
}

const DEEP_INTEGRITY = { ok: 'ok', corrupt: 'corrupt', unverifiable: 'unchecked' } as const;

/** Every datacenter's object and tombstone, read with two HEADs each: for repairs without a listing, and after conflicts. */
export async function readCopiesFully(
  stores: ReadonlyMap<string, ObjectStore>,
  dataset: string,
  key: string,
  signal: AbortSignal | undefined,
): Promise<Map<string, CopyState>> {
  const entries = await Promise.all(
    [...stores].map(async ([dc, store]) => {
      const [object, tombstone] = await Promise.all([headObject(store, dataset, key, signal), headTombstone(store, dataset, key, signal)]);
      return [dc, { object, tombstone }] as const;
    }),
  );
  return new Map(entries);
}

/**
 * Every datacenter's state of a divergent key, with as few HEADs as the listing allows:
 *
 * - A datacenter that listed nothing holds nothing (no request). A race with a consumer writing
 *   the key meanwhile is caught by the repair's conditional writes and re-read.
 * - Objects with the same ETag hold the same bytes, so one HEAD per distinct ETag; in deep mode
 *   the scan's GET already returned the metadata, so none at all (until a repair confirms it).
 * - Tombstones are empty, so their versions cannot be grouped: HEAD one, and the others only if
 *   some object is newer than it (then which delete is newest decides the winner) or lies next
 *   to them (then whether it holds the winning delete decides the repair).
 *
 * A HEAD that contradicts the listing (the object changed since) falls back to reading every
 * member of its group.
 */
export async function readCopies(
  stores: ReadonlyMap<string, ObjectStore>,
  dataset: string,
  key: string,
  listed: Readonly<Record<string, ListedState>>,
  signal: AbortSignal | undefined,
): Promise<Map<string, CopyState>> {
  const objects = new Map<string, ObjectCopy | undefined>();
  const groups = new Map<string, string[]>();
  for (const dc of stores.keys()) {
    const object = listed[dc]?.object;
    if (object === undefined) continue;
    // What the deep scan's GET returned may be hours old by now (a consumer may have written the
    // same bytes at a newer version since, which an If-Match on the ETag cannot tell): a repair
    // confirms it like a copy taken from another datacenter's.
    if (object.deep !== undefined) objects.set(dc, { ...objectCopyOf(object.deep.info, DEEP_INTEGRITY[object.deep.integrity]), inferred: true });
    else groups.set(comparableEtag(object.etag), [...(groups.get(comparableEtag(object.etag)) ?? []), dc]);
  }
  await Promise.all(
    [...groups].map(async ([etag, members]) => {
      const [first, ...others] = members as [string, ...string[]];
      const copy = await headObject(storeOf(stores, first), dataset, key, signal);
      objects.set(first, copy);
      if (copy !== undefined && sameEtag(copy.etag, etag)) {
        for (const dc of others) objects.set(dc, { ...copy, inferred: true });
        return;
      }
      await Promise.all(others.map(async (dc) => objects.set(dc, await headObject(storeOf(stores, dc), dataset, key, signal))));
    }),
  );

  const tombstones = new Map<string, TombstoneCopy | undefined>();
  const withTombstone = [...stores.keys()].filter((dc) => listed[dc]?.tombstone !== undefined);
  const [firstDead, ...otherDead] = withTombstone;
  if (firstDead !== undefined) {
    const copy = await headTombstone(storeOf(stores, firstDead), dataset, key, signal);
    tombstones.set(firstDead, copy);
    const newestObject = newest([...objects.values()].map((o) => o?.version));
    const mustReadAll = copy?.version === undefined || (newestObject !== undefined && compareVersions(newestObject, copy.version) > 0);
    // Where an object lies next to the tombstone, its own version decides whether the winning
    // delete's tombstone must still be written there: never assume it.
    const toRead = mustReadAll ? otherDead : otherDead.filter((dc) => objects.get(dc) !== undefined);
    await Promise.all(toRead.map(async (dc) => tombstones.set(dc, await headTombstone(storeOf(stores, dc), dataset, key, signal))));
    for (const dc of otherDead) if (!tombstones.has(dc)) tombstones.set(dc, copy);
  }
  return new Map([...stores.keys()].map((dc) => [dc, { object: objects.get(dc), tombstone: tombstones.get(dc) }]));
}

function newest(versions: ReadonlyArray<Version | undefined>): Version | undefined {
  let max: Version | undefined;
  for (const v of versions) if (v !== undefined && (max === undefined || compareVersions(v, max) > 0)) max = v;
  return max;
}

function storeOf(stores: ReadonlyMap<string, ObjectStore>, dc: string): ObjectStore {
  const store = stores.get(dc);
  if (store === undefined) throw new Error(`no store for datacenter ${dc}; this is a bug in the caller`);
  return store;
}

/**
 * Reads the objects of `datacenters` whose copy was inferred (see {@link ObjectCopy.inferred});
 * returns the copies with those replaced by what was read. A verdict on the bytes (deep mode, or
 * learnt from a source) is kept while the ETag is the same: the bytes are.
 */
export async function confirmInferred(
  stores: ReadonlyMap<string, ObjectStore>,
  dataset: string,
  key: string,
  copies: ReadonlyMap<string, CopyState>,
  datacenters: readonly string[],
  signal: AbortSignal | undefined,
): Promise<Map<string, CopyState>> {
  const confirmed = new Map(copies);
  await Promise.all(
    datacenters.map(async (dc) => {
      const state = copies.get(dc);
      if (state?.object?.inferred !== true) return;
      const read = await headObject(storeOf(stores, dc), dataset, key, signal);
      confirmed.set(dc, { ...state, object: read !== undefined && sameEtag(read.etag, state.object.etag) ? { ...read, integrity: state.object.integrity } : read });
    }),
  );
  return confirmed;
}
