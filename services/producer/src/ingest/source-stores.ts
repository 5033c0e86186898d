import type { ObjectInfo, ObjectStore } from '@shardsync/objectstore';

/** Where the sources of announced puts are looked up (POST /v1/events). */
export interface SourceLookup {
  /** HEAD of `key` in `bucket` on a datacenter's endpoint; `undefined` when it does not exist. */
  head(datacenter: string, bucket: string, key: string): Promise<ObjectInfo | undefined>;
}

export interface SourceStoresDeps {
  /** The bucket each datacenter has in the topology. */
  topologyBuckets: ReadonlyMap<string, string>;
  /** The shared store of a topology bucket (StorePool.at: cached for the process's life). */
  shared: (datacenter: string, bucket: string) => ObjectStore;
  /** A new store of any other bucket, owned (and closed) by {@link SourceStores}. */
  open: (datacenter: string, bucket: string) => ObjectStore;
  /** Most stores of other buckets kept open at once. Default 32. */
  maxForeign?: number | undefined;
}

interface Foreign {
  readonly store: ObjectStore;
  inUse: number;
  evicted: boolean;
}

/**
 * Stores for announced sources. A service may announce objects in any bucket, so the bucket
 * name comes from the request: caching one S3 client per name forever (as StorePool.at does)
 * would let a caller grow memory and sockets without bound. Topology buckets use the shared
 * pool; other buckets get a store of their own, and only the most recently used few stay open.
 * A store evicted while a HEAD runs on it is closed when that HEAD finishes, never under it.
 */
export class SourceStores implements SourceLookup {
  readonly #d: SourceStoresDeps;
  readonly #maxForeign: number;
  /** In least- to most-recently-used order (Map keeps insertion order). */
  readonly #foreign = new Map<string, Foreign>();
  /** Evicted stores still serving a HEAD; closed when it ends, or by close(). */
  readonly #retiring = new Set<Foreign>();

  constructor(deps: SourceStoresDeps) {
    this.#d = deps;
    this.#maxForeign = deps.maxForeign ?? 32;
  }

  async head(datacenter: string, bucket: string, key: string): Promise<ObjectInfo | undefined> {
    if (this.#d.topologyBuckets.get(datacenter) === bucket) return this.#d.shared(datacenter, bucket).head(key);
    const entry = this.#lease(datacenter, bucket);
    try {
      return await entry.store.head(key);
    } finally {
      entry.inUse -= 1;
      if (entry.evicted && entry.inUse === 0) {
        this.#retiring.delete(entry);
        void entry.store.close().catch(() => undefined);
      }
    }
  }

  /** Stores of other buckets currently open, evicted ones still serving a HEAD included. */
  get openForeignStores(): number {
    return this.#foreign.size + this.#retiring.size;
  }

  /** Closes the stores of other buckets; the shared ones belong to the pool. */
  async close(): Promise<void> {
    const entries = [...this.#foreign.values(), ...this.#retiring];
    this.#foreign.clear();
    this.#retiring.clear();
    await Promise.all(entries.map((e) => e.store.close().catch(() => undefined)));
  }

  #lease(datacenter: string, bucket: string): Foreign {
    const id = `${datacenter}\0${bucket}`;
    let entry = this.#foreign.get(id);
    if (entry === undefined) {
      entry = { store: this.#d.open(datacenter, bucket), inUse: 0, evicted: false };
    } else {
      this.#foreign.delete(id);
    }
    this.#foreign.set(id, entry);
    entry.inUse += 1;
    this.#evictBeyondLimit();
    return entry;
  }

  #evictBeyondLimit(): void {
    for (const [id, oldest] of this.#foreign) {
      if (this.#foreign.size <= this.#maxForeign) return;
      this.#foreign.delete(id);
      oldest.evicted = true;
      if (oldest.inUse > 0) this.#retiring.add(oldest);
      else void oldest.store.close().catch(() => undefined);
    }
  }
}
