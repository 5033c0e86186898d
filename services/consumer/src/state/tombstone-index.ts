import { tombstoneKeyOf, tombstonePrefix, TOMBSTONE_PREFIX } from '@shardsync/events';
import type { ObjectStore } from '@shardsync/objectstore';
import { runBounded } from '../batch/bounded.js';

/** Expired tombstones deleted at once after a reload. */
const EXPIRY_CONCURRENCY = 8;

/**
 * Which keys of this datacenter have a tombstone, known from one listing of the tombstone
 * prefix, so a put of a key never seen before needs no request to rule a tombstone out (the
 * common case). Reloaded whenever partitions are reassigned, because the previous owner of a
 * partition may have written tombstones this instance has not seen. Tombstones older than the
 * grace period are deleted while loading, a few at a time.
 */
export class TombstoneIndex {
  readonly #store: ObjectStore;
  readonly #graceMs: number;
  #keys = new Set<string>();
  /** Numbers the reloads, so an older one finishing late cannot replace a newer one's keys. */
  #generation = 0;

  constructor(store: ObjectStore, graceMs: number) {
    this.#store = store;
    this.#graceMs = graceMs;
  }

  /**
   * Lists every tombstone; returns how many are indexed and how many expired ones were deleted.
   * The deletes run a few at a time but before it resolves: the batches waiting for the index
   * cannot write a tombstone the expiry would then delete (they all have the same empty-body
   * ETag, so a conditional delete could not tell a fresh one from an expired one).
   */
  async reload(nowMs: number = Date.now()): Promise<{ loaded: number; expired: number }> {
    const generation = ++this.#generation;
    const keys = new Set<string>();
    const expired: string[] = [];
    for await (const entry of this.#store.list({ prefix: TOMBSTONE_PREFIX })) {
      if (nowMs - entry.lastModified.getTime() > this.#graceMs) expired.push(entry.key);
      else keys.add(entry.key);
    }
    await runBounded(expired, EXPIRY_CONCURRENCY, async (key) => {
      await this.#store.delete(key);
    });
    if (generation === this.#generation) this.#keys = keys;
    return { loaded: keys.size, expired: expired.length };
  }

  has(dataset: string, key: string): boolean {
    return this.#keys.has(tombstoneKeyOf(dataset, key));
  }

  add(dataset: string, key: string): void {
    this.#keys.add(tombstoneKeyOf(dataset, key));
  }

  remove(dataset: string, key: string): void {
    this.#keys.delete(tombstoneKeyOf(dataset, key));
  }

  /** Tombstones known for one dataset (for tests and status). */
  countFor(dataset: string): number {
    const prefix = tombstonePrefix(dataset);
    let n = 0;
    for (const k of this.#keys) if (k.startsWith(prefix)) n += 1;
    return n;
  }
}
