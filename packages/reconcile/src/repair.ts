import { randomUUID } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { compareVersions, formatVersion, META, objectKeyOf, tombstoneBody, tombstoneKeyOf, versionInMetadata, type Version } from '@shardsync/events';
import { hashStream } from '@shardsync/integrity';
import type { ObjectStore } from '@shardsync/objectstore';
import type { Winner } from './decide.js';
import { codeOf, NoHealthySourceError } from './errors.js';
import type { CopyState, RepairAction, TombstoneCopy } from './model.js';
import { objectCopyOf, observed, tombstoneCopyOf } from './read-state.js';

/**
 * The key changed since it was read (a consumer applied an update, or a source was replaced):
 * the caller re-reads every datacenter and decides again. Never leaves `reconcileKey`.
 */
export class StateChangedError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'StateChangedError';
  }
}

/** What a repair needs about the key and the stores. */
export interface RepairTarget {
  readonly stores: ReadonlyMap<string, ObjectStore>;
  readonly dataset: string;
  readonly key: string;
  readonly signal: AbortSignal | undefined;
}

/** Side effects a repair reports back. */
export interface RepairEffects {
  /** Object bytes written. */
  bytes: number;
  /** Sources whose bytes did not match the winner's SHA-256 (`<datacenter>\0<etag>`). */
  readonly corruptSources: Set<string>;
}

/** Options of an adoption. */
export interface AdoptOptions {
  readonly producerId: string;
  readonly now: () => number;
}

/**
 * Applies one datacenter's repair, writing exactly what the consumer writes (same metadata keys;
 * a tombstone before deleting an object) and only over the state that was read: objects are
 * written with `If-Match` the ETag read (or `If-None-Match: *` where none was), and a tombstone
 * that may have changed is re-read and compared by version right before the write. Any sign
 * that the key moved on throws {@link StateChangedError}; the caller re-reads and decides again,
 * so a newer version a consumer applied meanwhile is never overwritten.
 *
 * Every intermediate state is one the conflict rule already resolves (a tombstone next to the
 * object it deletes; a new object next to the tombstone it outranks), so a process killed
 * between two writes leaves nothing the next pass cannot finish.
 */
export async function applyRepair(
  target: RepairTarget,
  datacenter: string,
  action: RepairAction,
  state: CopyState,
  winner: Winner | undefined,
  effects: RepairEffects,
  adopt: AdoptOptions,
): Promise<void> {
  const store = storeOf(target.stores, datacenter);
  const { dataset, key, signal } = target;
  switch (action.type) {
    case 'copy': {
      if (winner?.kind !== 'put') throw new Error('a copy repair needs a winning put');
      if (state.object === undefined) {
        await copyIntoAbsent(store, target, datacenter, state, winner, effects);
        return;
      }
      // Over an existing copy (If-Match its ETag), a consumer's delete racing the copy makes the
      // write fail or removes what it wrote: only a tombstone read earlier needs checking first.
      const tombstone = state.tombstone === undefined ? undefined : await freshTombstone(store, dataset, key, signal);
      if (tombstone?.version !== undefined && compareVersions(tombstone.version, winner.version) >= 0) {
        throw new StateChangedError(`datacenter ${datacenter} now has a delete at least as new as the winning put`);
      }
      await copyFromSources(target, datacenter, state, winner, effects);
      // The consumer removes a tombstone its put outranks; so does the repair (that one only:
      // one written since is the next pass's to judge).
      if (tombstone !== undefined) await conditional(() => store.delete(tombstoneKeyOf(dataset, key), { ifMatch: tombstone.etag, signal }));
      return;
    }
    case 'delete': {
      if (winner?.kind !== 'delete') throw new Error('a delete repair needs a winning delete');
      if (action.writeTombstone) await writeTombstone(store, target, state, winner);
      if (action.deleteObject && state.object !== undefined) await conditional(() => store.delete(objectKeyOf(dataset, key), { ifMatch: state.object?.etag, signal }));
      return;
    }
    case 'remove-tombstone': {
      const tombstone = await freshTombstone(store, dataset, key, signal);
      if (tombstone === undefined) return;
      if (winner === undefined || (tombstone.version !== undefined && compareVersions(tombstone.version, winner.version) >= 0)) {
        throw new StateChangedError(`datacenter ${datacenter} has a new tombstone`);
      }
      await conditional(() => store.delete(tombstoneKeyOf(dataset, key), { ifMatch: tombstone.etag, signal }));
      return;
    }
    case 'remove-unmanaged':
      await conditional(() => store.delete(objectKeyOf(dataset, key), { ifMatch: state.object?.etag, signal }));
      return;
    case 'adopt':
      await adoptInPlace(store, target, state, adopt);
      return;
  }
}

/**
 * Copies the winner where the key has no object (If-None-Match), then reads the tombstone. A
 * consumer applying a newer delete meanwhile (its tombstone, then the removal of an object that
 * was not there yet) would otherwise leave the copy readable until a later pass: a tombstone at
 * least as new as the winner takes the copy back at once (only this very write: If-Match its
 * ETag), and the key is decided again. An older one is removed, as the consumer removes a
 * tombstone its put outranks (that one only: one written since is the next pass's to judge).
 * Checking after the write rather than before costs no more requests, and covers both a stale
 * read and the race.
 */
async function copyIntoAbsent(store: ObjectStore, target: RepairTarget, datacenter: string, state: CopyState, winner: Extract<Winner, { kind: 'put' }>, effects: RepairEffects): Promise<void> {
  const { dataset, key, signal } = target;
  const written = await copyFromSources(target, datacenter, state, winner, effects);
  const tombstone = await freshTombstone(store, dataset, key, signal);
  if (tombstone === undefined) return;
  if (tombstone.version !== undefined && compareVersions(tombstone.version, winner.version) >= 0) {
    await conditional(() => store.delete(objectKeyOf(dataset, key), { ifMatch: written, signal }));
    throw new StateChangedError(`datacenter ${datacenter} received a delete at least as new as the winning put while it was being copied`);
  }
  await conditional(() => store.delete(tombstoneKeyOf(dataset, key), { ifMatch: tombstone.etag, signal }));
}

/** Copies the winner into `datacenter` from the first source that has it intact; returns the ETag written. */
async function copyFromSources(target: RepairTarget, datacenter: string, state: CopyState, winner: Extract<Winner, { kind: 'put' }>, effects: RepairEffects): Promise<string> {
  const { dataset, key } = target;
  const destination = storeOf(target.stores, datacenter);
  const conditions = state.object === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: state.object.etag };
  let lastError: unknown;
  let unreadable = false;
  for (const source of winner.sources) {
    if (source === datacenter) continue;
    try {
      const copied = await copyOnce(target, storeOf(target.stores, source), destination, conditions, winner);
      effects.bytes += copied.bytes;
      return copied.etag;
    } catch (err) {
      if (err instanceof StateChangedError) throw err;
      lastError = err;
      if (err instanceof CorruptSourceError) effects.corruptSources.add(`${source}\0${err.etag}`);
      // Another source may still work when this one is down; the error is kept for the report.
      else unreadable = true;
    }
  }
  if (unreadable) throw lastError;
  throw new NoHealthySourceError(
    `no datacenter holds a healthy copy of ${dataset}/${key} at version ${formatVersion(winner.version)} to repair ${datacenter} from (sources tried: ${winner.sources.join(', ') || 'none'})`,
    lastError,
  );
}

/** The source's bytes did not hash to the winner's SHA-256: it must not be used, and needs repair itself. */
class CorruptSourceError extends Error {
  constructor(
    readonly etag: string,
    cause: unknown,
  ) {
    super('the source bytes do not match their SHA-256', { cause });
  }
}

/** Streams one source's copy into the destination; returns the bytes written and the new object's ETag. */
async function copyOnce(
  target: RepairTarget,
  source: ObjectStore,
  destination: ObjectStore,
  conditions: { ifNoneMatch: '*' } | { ifMatch: string },
  winner: Extract<Winner, { kind: 'put' }>,
): Promise<{ bytes: number; etag: string }> {
  const bucketKey = objectKeyOf(target.dataset, target.key);
  const { info, body } = await conditional(() => source.get(bucketKey, { signal: target.signal }));
  try {
    const version = versionInMetadata(info.metadata);
    if (version === undefined || compareVersions(version, winner.version) !== 0) {
      throw new StateChangedError(`the copy in ${source.datacenter} is no longer the winning version`);
    }
    // Streamed with bounded memory; put() verifies the SHA-256 before anything becomes
    // visible, so a bad byte anywhere in the source aborts the write.
    const counter = new ByteCounter();
    body.on('error', (err) => counter.destroy(err));
    let etag: string;
    try {
      ({ etag } = await conditional(() =>
        destination.put(bucketKey, body.pipe(counter), {
          ...conditions,
          size: info.size,
          metadata: info.metadata,
          contentType: info.contentType,
          expectedSha256: winner.sha256,
          signal: target.signal,
        }),
      ));
    } catch (err) {
      if (codeOf(err) === 'SHARDSYNC_CHECKSUM_MISMATCH') throw new CorruptSourceError(info.etag, err);
      throw err;
    }
    return { bytes: counter.bytes, etag };
  } finally {
    body.destroy();
  }
}

async function writeTombstone(store: ObjectStore, target: RepairTarget, state: CopyState, winner: Extract<Winner, { kind: 'delete' }>): Promise<void> {
  const { dataset, key, signal } = target;
  const metadata: Record<string, string> = {};
  for (const name of [META.version, META.eventId, META.deletedAtMs]) {
    const value = winner.metadata[name];
    if (value !== undefined) metadata[name] = value;
  }
  metadata[META.version] = formatVersion(winner.version);
  metadata[META.deletedAtMs] ??= String(winner.deletedAtMs);
  // A body unique to this write, as the consumer writes it: a consumer's expiry sweep that listed
  // an older tombstone here must not be able to delete this one (see tombstoneBody).
  const body = tombstoneBody(metadata[META.eventId]);
  if (state.tombstone === undefined) {
    await conditional(() => store.put(tombstoneKeyOf(dataset, key), body, { metadata, ifNoneMatch: '*', signal }));
    return;
  }
  // The ETag read with the state belongs to that earlier write, and tombstones written before
  // unique bodies were all empty (equal ETags): compare versions right before overwriting an
  // older tombstone, and overwrite only the one just read (If-Match).
  const fresh = await freshTombstone(store, dataset, key, signal);
  if (fresh?.version !== undefined && compareVersions(fresh.version, winner.version) >= 0) return;
  await conditional(() => store.put(tombstoneKeyOf(dataset, key), body, { metadata, ...(fresh === undefined ? { ifNoneMatch: '*' } : { ifMatch: fresh.etag }), signal }));
}

/**
 * Gives an unmanaged object a version where it lies: reads it to record its SHA-256, then copies
 * it onto itself with shardsync metadata, on the condition that it is still the same object.
 */
async function adoptInPlace(store: ObjectStore, target: RepairTarget, state: CopyState, adopt: AdoptOptions): Promise<void> {
  const { dataset, key, signal } = target;
  const bucketKey = objectKeyOf(dataset, key);
  const etag = state.object?.etag;
  const { info, body } = await conditional(() => store.get(bucketKey, { ifMatch: etag, signal }));
  const digest = await hashStream(body).finally(() => body.destroy());
  if (objectCopyOf(observed(info)).version !== undefined) throw new StateChangedError('the object received a version meanwhile');
  const version: Version = { physicalMs: adopt.now(), logical: 0, producerId: adopt.producerId };
  const metadata = { ...info.metadata, [META.version]: formatVersion(version), [META.sha256]: digest.sha256, [META.eventId]: `adopted-${randomUUID()}` };
  await conditional(() => store.copy(bucketKey, bucketKey, { metadata, contentType: info.contentType, ifMatch: info.etag, sourceIfMatch: info.etag, signal }));
}

/** The tombstone as it is now, with the ETag that makes the write or delete that follows conditional on it. */
async function freshTombstone(store: ObjectStore, dataset: string, key: string, signal: AbortSignal | undefined): Promise<(TombstoneCopy & { etag: string }) | undefined> {
  const info = await store.head(tombstoneKeyOf(dataset, key), { signal });
  return info === undefined ? undefined : { ...tombstoneCopyOf(observed(info)), etag: info.etag };
}

/** A failed precondition (or a source gone) means the key moved on since it was read. */
async function conditional<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    const code = codeOf(err);
    if (code === 'SHARDSYNC_PRECONDITION_FAILED' || code === 'SHARDSYNC_OBJECT_NOT_FOUND') throw new StateChangedError('the key changed while it was being repaired', err);
    throw err;
  }
}

function storeOf(stores: ReadonlyMap<string, ObjectStore>, dc: string): ObjectStore {
  const store = stores.get(dc);
  if (store === undefined) throw new Error(`no store for datacenter ${dc}; this is a bug in the caller`);
  return store;
}

class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    done(null, chunk);
  }
}
