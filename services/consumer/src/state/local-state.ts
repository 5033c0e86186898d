import { META, objectKeyOf, pickWinner, tombstoneKeyOf, versionInMetadata, type VersionedState } from '@shardsync/events';
import type { ObjectInfo, ObjectStore } from '@shardsync/objectstore';
import { LruMap } from '@shardsync/runtime';
import type { TombstoneIndex } from './tombstone-index.js';

/** What this datacenter holds for one key. */
export interface KeyState {
  /** The object's version, if it exists and carries shardsync metadata. */
  object?: VersionedState & { etag: string; sha256: string | undefined };
  /** An object without shardsync metadata (written by hand): any versioned update replaces it. */
  unversionedEtag?: string;
  /** The key's tombstone; its ETag makes a write of the tombstone conditional on this one. */
  tombstone?: VersionedState & { etag: string };
  /** A tombstone without a readable version (written by hand): it decides nothing, and a delete replaces it. */
  unversionedTombstoneEtag?: string;
}

/** The state that decides: the highest of the object and its tombstone. */
export function effectiveState(state: KeyState): VersionedState | undefined {
  const candidates: VersionedState[] = [];
  if (state.object !== undefined) candidates.push(state.object);
  if (state.tombstone !== undefined) candidates.push(state.tombstone);
  return pickWinner(candidates);
}


/** What an object's HEAD says of the key's state: its version, or that it has none (written by hand). */
function objectState(info: ObjectInfo | undefined): KeyState {
  if (info === undefined) return {};
  const version = versionInMetadata(info.metadata);
  return version === undefined ? { unversionedEtag: info.etag } : { object: { version, kind: 'put', etag: info.etag, sha256: info.metadata[META.sha256] } };
}

/**
 * Reads a key's state from the datacenter's store, remembering what this consumer wrote: a
 * consumer owns its partitions, so after it applied a key it knows the key's state without
 * asking the store again.
 */
export class LocalState {
  readonly #store: ObjectStore;
  readonly #tombstones: TombstoneIndex;
  readonly #cache: LruMap<string, KeyState>;

  constructor(store: ObjectStore, tombstones: TombstoneIndex, cacheEntries: number) {
    this.#store = store;
    this.#tombstones = tombstones;
    this.#cache = new LruMap(cacheEntries);
  }

  /** The cached state, if this consumer has seen the key (no request). */
  cached(dataset: string, key: string): KeyState | undefined {
    return this.#cache.get(objectKeyOf(dataset, key));
  }

  /** Whether the key may have a tombstone (per the index); false means certainly none. */
  mayHaveTombstone(dataset: string, key: string): boolean {
    return this.#tombstones.has(dataset, key);
  }

  /**
   * Reads the key's object and its tombstone from the store; the tombstone only if the index has
   * one, unless `headTombstone` (the index may miss one another writer added since it was loaded).
   */
  async read(dataset: string, key: string, options: { headTombstone?: boolean } = {}): Promise<KeyState> {
    const withTombstone = options.headTombstone === true || this.#tombstones.has(dataset, key);
    const [info, tombstone] = await Promise.all([
      this.#store.head(objectKeyOf(dataset, key)),
      withTombstone ? this.#store.head(tombstoneKeyOf(dataset, key)) : Promise.resolve(undefined),
    ]);
    const state: KeyState = objectState(info);
    if (tombstone !== undefined) {
      const version = versionInMetadata(tombstone.metadata);
      if (version !== undefined) state.tombstone = { version, kind: 'delete', etag: tombstone.etag };
      else state.unversionedTombstoneEtag = tombstone.etag;
      this.#tombstones.add(dataset, key);
    } else if (withTombstone) {
      this.#tombstones.remove(dataset, key);
    }
    this.#cache.set(objectKeyOf(dataset, key), state);
    return state;
  }

  /** Reads only the key's object (one HEAD), e.g. to delete exactly the one there is; caches nothing. */
  async readObject(dataset: string, key: string, signal?: AbortSignal): Promise<Pick<KeyState, 'object' | 'unversionedEtag'>> {
    return objectState(await this.#store.head(objectKeyOf(dataset, key), { signal }));
  }

  remember(dataset: string, key: string, state: KeyState): void {
    this.#cache.set(objectKeyOf(dataset, key), state);
  }

  forget(dataset: string, key: string): void {
    this.#cache.delete(objectKeyOf(dataset, key));
  }

  /** Drops every cached state, e.g. after a rebalance. */
  clear(): void {
    this.#cache.clear();
  }
}
