import { tombstoneKeyOf, tombstonePrefix, TOMBSTONE_PREFIX } from '@shardsync/events';
import type { ListEntry, ObjectStore } from '@shardsync/objectstore';
import { codeOf } from '../apply/errors.js';
import { runBounded } from '../batch/bounded.js';

/** Expired tombstones deleted at once. */
const EXPIRY_CONCURRENCY = 8;

/** What one sweep did. */
export interface SweepResult {
  /** Expired tombstones deleted. */
  readonly expired: number;
  /** Expired when listed, but written again (or removed) before the delete: kept. */
  readonly rewritten: number;
  /** Deletes that failed otherwise (the store is down, ...); the next sweep tries them again. */
  readonly failed: number;
  /** The first of those failures, for the log. */
  readonly error?: unknown;
}

/**
 * Which keys of this datacenter have a tombstone, known from one listing of the tombstone
 * prefix, so a put of a key never seen before needs no request to rule a tombstone out (the
 * common case). Reloaded whenever partitions are reassigned, because the previous owner of a
 * partition may have written tombstones this instance has not seen.
 *
 * Batches go on applying while a reload runs (kafkajs can rejoin the group from one broker's
 * fetch while batches of another broker's partitions are being handled), and a listing is no
 * snapshot: a tombstone written once the listing has gone past its key is not in it. So the keys
 * {@link add}ed while a reload runs are added to what it loaded; a key {@link remove}d meanwhile
 * is not taken out of it, since the listing may show a newer tombstone than the one removed (a
 * stale key costs the next put of the key one HEAD, which then drops it; a missing one would let
 * a late, older put recreate a deleted key).
 *
 * Tombstones older than the grace period are deleted by every reload and by {@link sweep}, which
 * the service runs periodically so that a group that never rebalances still expires them. Both
 * delete an expired tombstone only with `If-Match` on the ETag its listing showed. Every write of
 * a tombstone has a body of its own (`tombstoneBody`), hence an ETag of its own, so a tombstone
 * written again after the listing (a new delete applied by a batch running meanwhile, by another
 * instance of this datacenter, or a reconciler repair) makes the delete fail and is kept: an
 * expiry can only remove the write it judged expired. (Where the store only emulates `If-Match`,
 * see `ConditionalWriteMode`, a write between its HEAD and its delete can still slip through, as
 * for every other conditional write.)
 */
export class TombstoneIndex {
  readonly #store: ObjectStore;
  readonly #graceMs: number;
  #keys = new Set<string>();
  /** Numbers the reloads, so an older one finishing late cannot replace a newer one's keys, and a sweep stops when one begins. */
  #generation = 0;
  /** Reloads running (a retried reload can start while an abandoned one still runs). */
  #reloading = 0;
  /** For each reload running, the keys added since it began and not removed since: its listing may have missed them. */
  readonly #addedDuringReloads = new Set<Set<string>>();
  /** The sweep running, if any. */
  #sweeping: Promise<SweepResult> | undefined;

  constructor(store: ObjectStore, graceMs: number) {
    this.#store = store;
    this.#graceMs = graceMs;
  }

  /**
   * Lists every tombstone; returns how many are indexed and how many expired ones were deleted.
   * A sweep running when it begins stops at its next key, and the reload lists only once the
   * sweep has stopped, so the two never change the index at the same time. The deletes run a few
   * at a time, before it resolves.
   */
  async reload(nowMs: number = Date.now()): Promise<{ loaded: number; expired: number }> {
    const generation = ++this.#generation;
    this.#reloading += 1;
    const addedMeanwhile = new Set<string>();
    this.#addedDuringReloads.add(addedMeanwhile);
    try {
      // Its failure is the sweep's caller's to report, not this reload's.
      await this.#sweeping?.catch(() => undefined);
      const keys = new Set<string>();
      const expired: ListEntry[] = [];
      for await (const entry of this.#store.list({ prefix: TOMBSTONE_PREFIX })) {
        if (this.#isExpired(entry, nowMs)) expired.push(entry);
        else keys.add(detached(entry.key));
      }
      let deleted = 0;
      await runBounded(expired, EXPIRY_CONCURRENCY, async (entry) => {
        if (await this.#deleteListed(entry)) deleted += 1;
        // Written again since the listing: a live tombstone, indexed.
        else keys.add(detached(entry.key));
      });
      if (generation === this.#generation) {
        for (const key of addedMeanwhile) keys.add(key);
        this.#keys = keys;
      }
      return { loaded: keys.size, expired: deleted };
    } finally {
      this.#addedDuringReloads.delete(addedMeanwhile);
      this.#reloading -= 1;
    }
  }

  /**
   * Deletes the tombstones that are past the grace period, without waiting for a reload, while
   * batches go on writing. Resolves undefined without doing anything when a reload or another
   * sweep is running (a reload expires tombstones itself). Stops early, having deleted part, when
   * a reload begins or `signal` aborts. Fails only if the listing fails.
   *
   * An expired key leaves the index before its delete and comes back if the delete fails: a
   * batch that writes the key's tombstone meanwhile adds it after its write, and a write before
   * the delete makes the delete fail, so the index never lacks a tombstone that exists (it may
   * briefly hold one that does not, which costs one HEAD).
   */
  async sweep(nowMs: number = Date.now(), signal?: AbortSignal): Promise<SweepResult | undefined> {
    if (this.#reloading > 0 || this.#sweeping !== undefined) return undefined;
    const running = this.#sweepOnce(this.#generation, nowMs, signal);
    this.#sweeping = running;
    try {
      return await running;
    } finally {
      this.#sweeping = undefined;
    }
  }

  has(dataset: string, key: string): boolean {
    return this.#keys.has(tombstoneKeyOf(dataset, key));
  }

  add(dataset: string, key: string): void {
    const tombstoneKey = detached(tombstoneKeyOf(dataset, key));
    this.#keys.add(tombstoneKey);
    for (const added of this.#addedDuringReloads) added.add(tombstoneKey);
  }

  remove(dataset: string, key: string): void {
    const tombstoneKey = tombstoneKeyOf(dataset, key);
    this.#keys.delete(tombstoneKey);
    for (const added of this.#addedDuringReloads) added.delete(tombstoneKey);
  }

  /** Tombstones known for one dataset (for tests and status). */
  countFor(dataset: string): number {
    const prefix = tombstonePrefix(dataset);
    let n = 0;
    for (const k of this.#keys) if (k.startsWith(prefix)) n += 1;
    return n;
  }

  async #sweepOnce(generation: number, nowMs: number, signal: AbortSignal | undefined): Promise<SweepResult> {
    const stopped = (): boolean => generation !== this.#generation || signal?.aborted === true;
    const expired: ListEntry[] = [];
    for await (const entry of this.#store.list({ prefix: TOMBSTONE_PREFIX, signal })) {
      if (stopped()) break;
      if (this.#isExpired(entry, nowMs)) expired.push(entry);
    }
    let deleted = 0;
    let rewritten = 0;
    let failed = 0;
    let error: unknown;
    await runBounded(expired, EXPIRY_CONCURRENCY, async (entry) => {
      if (stopped()) return;
      this.#keys.delete(entry.key);
      try {
        if (await this.#deleteListed(entry, signal)) {
          deleted += 1;
          return;
        }
        rewritten += 1;
      } catch (err) {
        failed += 1;
        error ??= err;
      }
      this.#keys.add(detached(entry.key));
    });
    return { expired: deleted, rewritten, failed, ...(error === undefined ? {} : { error }) };
  }

  #isExpired(entry: ListEntry, nowMs: number): boolean {
    return nowMs - entry.lastModified.getTime() > this.#graceMs;
  }

  /** Deletes the listed write of a tombstone; false when the key holds another write now (or none). */
  async #deleteListed(entry: ListEntry, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.#store.delete(entry.key, { ifMatch: entry.etag, signal });
      return true;
    } catch (err) {
      if (codeOf(err) === 'SHARDSYNC_PRECONDITION_FAILED') return false;
      throw err;
    }
  }
}

/**
 * A copy of `s` that shares no memory with the strings it was made of. V8 keeps a substring (a
 * key cut out of its listing page's XML) as a view that keeps the whole page alive, and a
 * concatenation as a tree of its parts: indexed as they came, tombstones took about 300 bytes
 * each (a 60-character key, a 1000-key page of XML per 1000 keys), copied about 140.
 */
function detached(s: string): string {
  // Slicing a concatenation first flattens it into a new string of its own.
  return (' ' + s).slice(1);
}
