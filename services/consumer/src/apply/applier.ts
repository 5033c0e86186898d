import { compareVersions, decideApply, formatVersion, META, objectKeyOf, stateOf, tombstoneBody, tombstoneKeyOf, type ShardUpdate, type Version } from '@shardsync/events';
import type { OwnershipFence } from '@shardsync/eventlog';
import type { ObjectStore, WriteConditions } from '@shardsync/objectstore';
import { effectiveState, type KeyState, type LocalState } from '../state/local-state.js';
import type { TombstoneIndex } from '../state/tombstone-index.js';
import { ApplyError, codeOf, conflictOnPrecondition } from './errors.js';
import { transfer, type TransferDeps } from './transfer.js';

export type ApplyOutcome =
  | { result: 'applied'; operation: ShardUpdate['operation']; bytes: number; mode: string }
  | { result: 'skipped'; reason: 'stale' | 'duplicate' | 'superseded' };

export interface ApplierDeps extends TransferDeps {
  local: ObjectStore;
  state: LocalState;
  tombstones: TombstoneIndex;
  now?: () => number;
}

/** How often one apply re-reads the key after a concurrent writer changed it. */
const MAX_CONFLICT_ROUNDS = 5;

/**
 * Applies one update to this datacenter's store if, and only if, its version is higher than
 * what the store holds for the key, tombstones included (the shared rule in @shardsync/events).
 *
 * A key's state lives in two keys, the object and its tombstone, so an update writes twice. Every
 * write is conditional on the state that was read (`If-Match` on the ETag it saw, `If-None-Match`
 * where it saw nothing), so a concurrent writer (a reconciler repair, a member of the group that
 * still held the partition) is never overwritten or deleted by an older version: on a conflict the
 * state is read again, the tombstone included, and the update decided again. A key left with both
 * an object and a tombstone (a process killed between the two writes, a race with such a writer)
 * is settled by the next update of the key that reads it, a redelivery included: whichever of the
 * two has the lower version is removed.
 *
 * A put of a key with no tombstone known is a conditional create, which cannot see the tombstone
 * key: a member that lost the partition could create an object after the new owner applied a
 * newer delete. So a put that may have outlived this member's ownership (its `fence` no longer
 * holds: see `SessionOwnership`) looks for a tombstone after writing, and settles the key if one
 * appeared. While the session is fresh, as it is for nearly every put, that costs nothing.
 */
export class Applier {
  readonly #d: ApplierDeps;

  constructor(deps: ApplierDeps) {
    this.#d = deps;
  }

  /**
   * `fence`, taken before the update's work began, says whether this instance may have lost the
   * update's partition meanwhile; without one, it is assumed it may have (one more request).
   */
  async apply(update: ShardUpdate, signal?: AbortSignal, fence?: OwnershipFence): Promise<ApplyOutcome> {
    let fresh = false;
    for (let round = 0; ; round += 1) {
      const state = fresh ? await this.#d.state.read(update.dataset, update.key, { headTombstone: true }) : await this.#stateFor(update);
      const current = effectiveState(state);
      try {
        if (decideApply(stateOf(update), current) === 'skip') {
          await this.#settle(update, state, signal);
          const duplicate = current !== undefined && formatVersion(current.version) === formatVersion(update.version);
          return { result: 'skipped', reason: duplicate ? 'duplicate' : 'stale' };
        }
        return update.operation === 'DELETE' ? await this.#delete(update, state, signal) : await this.#put(update, state, signal, fence);
      } catch (err) {
        // Whatever failed, the cache may no longer say what the store holds (a write done, the
        // next one not): the retry reads the key again.
        this.#d.state.forget(update.dataset, update.key);
        if (codeOf(err) !== 'SHARDSYNC_APPLY_CONFLICT' || round + 1 >= MAX_CONFLICT_ROUNDS) throw err;
        fresh = true;
      }
    }
  }

  /**
   * The key's state with as few requests as possible: what this consumer last wrote, or
   * "absent" for a key with no tombstone in the index, which a conditional create
   * (If-None-Match: *) then confirms in the same request as the write.
   */
  async #stateFor(update: ShardUpdate): Promise<KeyState> {
    const cached = this.#d.state.cached(update.dataset, update.key);
    if (cached !== undefined) return cached;
    if (update.operation === 'PUT' && !this.#d.state.mayHaveTombstone(update.dataset, update.key)) return {};
    return this.#d.state.read(update.dataset, update.key);
  }

  async #put(update: Extract<ShardUpdate, { operation: 'PUT' }>, state: KeyState, signal?: AbortSignal, fence?: OwnershipFence): Promise<ApplyOutcome> {
    const result = await transfer(update, conditionsOn(state.object?.etag ?? state.unversionedEtag), this.#d, signal);
    if (result.mode === 'superseded') return { result: 'skipped', reason: 'superseded' };
    if (state.tombstone === undefined && fence?.held() !== true) {
      // This instance may have lost the partition while it wrote, and the new owner may have
      // applied a newer delete meanwhile: its tombstone is a key our conditional create could not
      // see. If one is there now, read the key again: the settling removes whichever lost. That
      // holds over a tombstone without a version too: the put leaves it in place, so only its
      // ETag tells whether a newer delete replaced it meanwhile.
      const tombstone = await this.#d.local.head(tombstoneKeyOf(update.dataset, update.key), { signal });
      if (tombstone !== undefined && tombstone.etag !== state.unversionedTombstoneEtag) {
        throw new ApplyError('SHARDSYNC_APPLY_CONFLICT', 'a tombstone appeared while the object was written', { retriable: true });
      }
    }
    if (state.tombstone !== undefined) {
      // The put outranks the tombstone it read; remove that one (and only that one: a newer
      // tombstone written meanwhile is a conflict, and the re-read settles the key its way).
      await conflictOnPrecondition(() => this.#d.local.delete(tombstoneKeyOf(update.dataset, update.key), { ifMatch: state.tombstone?.etag, signal }));
      this.#d.tombstones.remove(update.dataset, update.key);
    }
    this.#d.state.remember(update.dataset, update.key, { object: { version: update.version, kind: 'put', etag: result.etag, sha256: update.sha256 } });
    return { result: 'applied', operation: 'PUT', bytes: result.bytes, mode: result.mode };
  }

  async #delete(update: Extract<ShardUpdate, { operation: 'DELETE' }>, state: KeyState, signal?: AbortSignal): Promise<ApplyOutcome> {
    const now = (this.#d.now ?? Date.now)();
    // Tombstone first: if we crash before the object is deleted, the tombstone already outranks
    // it and the redelivered delete settles the key (apply). A body unique to this write lets the
    // expiry sweep tell it from the tombstone it listed (TombstoneIndex.sweep), and gives the
    // write an ETag of its own for the conditions of later writes.
    const written = await conflictOnPrecondition(() =>
      this.#d.local.put(tombstoneKeyOf(update.dataset, update.key), tombstoneBody(update.eventId), {
        metadata: { [META.version]: formatVersion(update.version), [META.eventId]: update.eventId, [META.deletedAtMs]: String(now) },
        ...conditionsOn(state.tombstone?.etag ?? state.unversionedTombstoneEtag),
        signal,
      }),
    );
    this.#d.tombstones.add(update.dataset, update.key);
    const kept = await this.#deleteOutranked(update.dataset, update.key, update.version, state, signal);
    if (kept) this.#d.state.forget(update.dataset, update.key);
    else this.#d.state.remember(update.dataset, update.key, { tombstone: { version: update.version, kind: 'delete', etag: written.etag } });
    return { result: 'applied', operation: 'DELETE', bytes: 0, mode: 'tombstone' };
  }

  /**
   * A key holding both an object and a tombstone: the write of an update stopped between its two
   * steps (the process was killed), or raced another writer. Removes whichever has the lower
   * version, conditionally on the ETag read. Nothing to do for the usual state of one or neither.
   */
  async #settle(update: ShardUpdate, state: KeyState, signal?: AbortSignal): Promise<void> {
    const { object, tombstone } = state;
    if (object === undefined || tombstone === undefined) return;
    if (compareVersions(tombstone.version, object.version) > 0) {
      const kept = await this.#deleteOutranked(update.dataset, update.key, tombstone.version, state, signal);
      if (kept) this.#d.state.forget(update.dataset, update.key);
      else this.#d.state.remember(update.dataset, update.key, { tombstone });
      return;
    }
    await conflictOnPrecondition(() => this.#d.local.delete(tombstoneKeyOf(update.dataset, update.key), { ifMatch: tombstone.etag, signal }));
    this.#d.tombstones.remove(update.dataset, update.key);
    this.#d.state.remember(update.dataset, update.key, { object });
  }

  /**
   * Deletes the object the state shows, and only that one (If-Match; an object's ETag is its
   * bytes' MD5, so a newer version with the very same bytes is not told apart, and the
   * reconciler restores it from its peers): an object written since
   * (a reconciler repair, a member that still held the partition) is read again and deleted only
   * if the tombstone (of version `tombstoneVersion`) outranks it. Deleting a missing key succeeds,
   * so a redelivery is harmless. Resolves true when a newer object was found and kept.
   */
  async #deleteOutranked(dataset: string, key: string, tombstoneVersion: Version, state: KeyState, signal?: AbortSignal): Promise<boolean> {
    let etag = state.object?.etag ?? state.unversionedEtag;
    for (let round = 1; ; round += 1) {
      if (etag === undefined) {
        // No object seen (at first, or the one seen changed): look rather than delete blind, since
        // a repair may have copied a newer version in since (one request, as a blind delete was).
        const now = await this.#d.state.readObject(dataset, key, signal);
        if (now.object !== undefined && compareVersions(now.object.version, tombstoneVersion) > 0) return true;
        etag = now.object?.etag ?? now.unversionedEtag;
        if (etag === undefined) return false;
      }
      try {
        await this.#d.local.delete(objectKeyOf(dataset, key), { ifMatch: etag, signal });
        return false;
      } catch (err) {
        if (codeOf(err) !== 'SHARDSYNC_PRECONDITION_FAILED') throw err;
        // Changed under every attempt: a conflict like any other (retriable), not the
        // store's PreconditionFailedError, which is not retriable and would dead-letter the update.
        if (round >= MAX_CONFLICT_ROUNDS) throw new ApplyError('SHARDSYNC_APPLY_CONFLICT', 'the object kept changing while it was being deleted', { retriable: true, cause: err });
        etag = undefined;
      }
    }
  }

}

/** A write over exactly what was read: the ETag seen, or nothing at all where nothing was. */
function conditionsOn(etag: string | undefined): WriteConditions {
  return etag === undefined ? { ifNoneMatch: '*' } : { ifMatch: etag };
}
