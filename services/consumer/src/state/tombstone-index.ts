import { tombstoneKeyOf, tombstonePrefix, TOMBSTONE_PREFIX } from '@shardsync/events';
import type { ObjectStore } from '@shardsync/objectstore';

/**
 * Which keys of this datacenter have a tombstone, known from one listing of the tombstone
 * prefix, so a put of a key never seen before needs no request to rule a tombstone out (the
 * common case). Reloaded whenever partitions are reassigned, because the previous owner of a
 * partition may have written tombstones this instance has not seen. Tombstones older than the
 * grace period are deleted while loading.
 */
export class TombstoneIndex {
  readonly #store: ObjectStore;
  readonly #graceMs: number;
  #keys = new Set<string>();

  constructor(store: ObjectStore, graceMs: number) {
    this.#store = store;
    this.#graceMs = graceMs;
  }

  /** Lists every tombstone; returns how many expired ones were removed. */
  async reload(nowMs: number = Date.now()): Promise<{ loaded: number; expired: number }> {
    const keys = new Set<string>();
    const expired: string[] = [];
    for await (const entry of this.#store.list({ prefix: TOMBSTONE_PREFIX })) {
      if (nowMs - entry.lastModified.getTime() > this.#graceMs) expired.push(entry.key);
      else keys.add(entry.key);
    }
    for (const key of expired) await this.#store.delete(key);
    this.#keys = keys;
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
