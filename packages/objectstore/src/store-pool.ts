import { LruMap } from '@shardsync/runtime';
import type { S3Credentials, S3StoreConfig } from './client.js';
import { ObjectStoreConfigError, StoreClosedError } from './errors.js';
import { isS3ProxyArtifact, type ListingStrategy, type ObjectStoreOptions } from './options.js';
import { PooledStore, type StoreLease } from './pooled-store.js';
import { S3ObjectStore } from './s3-object-store.js';
import type { ObjectStore } from './types.js';

/** A datacenter as the topology describes it (structurally; this package does not read topologies). */
export interface DatacenterStoreConfig {
  readonly name: string;
  readonly s3: {
    readonly endpoint: string;
    readonly region: string;
    readonly bucket: string;
    readonly forcePathStyle?: boolean | undefined;
    readonly credentials?: S3Credentials | undefined;
    /** Overrides the pool's `listing` option for this datacenter's server. */
    readonly listing?: ListingStrategy | undefined;
    /** `s3proxy`: listings leave out the keys s3proxy's filesystem backends show on their own ({@link isS3ProxyArtifact}). */
    readonly artifacts?: 'none' | 's3proxy' | undefined;
  };
}

/** Builds the store of one bucket. */
export type StoreFactory = (config: S3StoreConfig, options: ObjectStoreOptions) => ObjectStore;

/** Options of a {@link StorePool}; every field is optional. */
export interface StorePoolOptions {
  /**
   * Stores of buckets other than the datacenters' own (see {@link StorePool.at}) kept open at
   * once; the least recently used is closed first. Default 32; at least 1.
   */
  readonly maxOtherBuckets?: number | undefined;
  /** Builds each store. Default: an {@link S3ObjectStore}. */
  readonly factory?: StoreFactory | undefined;
  /**
   * Keep what a datacenter's `s3.artifacts` would leave out of listings. For a lister that must
   * see every key of its prefix, such as a consumer's tombstone index (a tombstone of a user key
   * ending in `-<uuid>` looks like an s3proxy temporary file), and to whom a temporary file costs
   * one request at most. Default false.
   */
  readonly listArtifacts?: boolean | undefined;
}

/** The default of {@link StorePoolOptions.maxOtherBuckets}. */
export const DEFAULT_MAX_OTHER_BUCKETS = 32;

/** One open store of another bucket, and the operations running on it. */
interface Lent {
  readonly store: ObjectStore;
  inUse: number;
  evicted: boolean;
}

/**
 * The stores of the datacenters, shared, so every caller reuses the same keep-alive sockets.
 *
 * Each datacenter's own bucket (the topology's) gets one store, opened on first use and kept
 * until `close()`. Any other bucket (named by a request or an event, so by anyone able to send
 * one) is served from a bounded set: only the `maxOtherBuckets` most recently used stay open.
 * Closing an S3 store destroys its sockets and fails the requests on them, so an evicted store
 * is closed only once the operations running on it have ended (a GET until its body is read);
 * the next operation on that bucket opens a store again.
 */
export class StorePool {
  readonly #datacenters: ReadonlyMap<string, DatacenterStoreConfig>;
  readonly #options: ObjectStoreOptions;
  readonly #factory: StoreFactory;
  readonly #listArtifacts: boolean;
  readonly #home = new Map<string, ObjectStore>();
  readonly #others: LruMap<string, Lent>;
  /** Evicted stores that operations still run on; closed when the last ends, or by close(). */
  readonly #retiring = new Set<Lent>();
  #closed = false;

  constructor(datacenters: readonly DatacenterStoreConfig[], options: ObjectStoreOptions = {}, pool: StorePoolOptions = {}) {
    this.#datacenters = new Map(datacenters.map((d) => [d.name, d]));
    this.#options = options;
    this.#factory = pool.factory ?? ((c, o) => new S3ObjectStore(c, o));
    this.#listArtifacts = pool.listArtifacts ?? false;
    const max = pool.maxOtherBuckets ?? DEFAULT_MAX_OTHER_BUCKETS;
    if (!Number.isSafeInteger(max) || max < 1) throw new ObjectStoreConfigError(`maxOtherBuckets must be an integer of at least 1, got ${max}`);
    this.#others = new LruMap(max, (_id, lent) => this.#retire(lent));
  }

  /** The store of a datacenter's own bucket: opened once, never evicted. */
  of(datacenter: string): ObjectStore {
    this.#assertOpen(datacenter);
    let store = this.#home.get(datacenter);
    if (store === undefined) {
      store = this.#open(datacenter, this.#config(datacenter).s3.bucket);
      this.#home.set(datacenter, store);
    }
    return store;
  }

  /**
   * The store of any bucket on a datacenter's endpoint (e.g. a source an event names). The
   * datacenter's own bucket is {@link of}; another bucket gets a {@link PooledStore}, valid for
   * as long as the caller keeps it, whose operations use the bounded set of open stores.
   */
  at(datacenter: string, bucket: string): ObjectStore {
    if (bucket === this.#config(datacenter).s3.bucket) return this.of(datacenter);
    return new PooledStore(datacenter, bucket, () => this.#borrow(datacenter, bucket));
  }

  /** Stores of other buckets open now, evicted ones that operations still run on included. */
  get openOtherStores(): number {
    return this.#others.size + this.#retiring.size;
  }

  /**
   * Closes every store, also those that operations still run on (they fail). Operations started
   * afterwards fail with `StoreClosedError`, also through a {@link PooledStore} handed out before:
   * none may open a store nobody would close.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const stores = [...this.#home.values(), ...[...this.#others.values(), ...this.#retiring].map((l) => l.store)];
    this.#home.clear();
    this.#others.clear();
    this.#retiring.clear();
    await Promise.all(stores.map((s) => s.close().catch(() => undefined)));
  }

  #borrow(datacenter: string, bucket: string): StoreLease {
    this.#assertOpen(datacenter, bucket);
    const id = `${datacenter}\0${bucket}`;
    let lent = this.#others.get(id);
    if (lent === undefined) {
      lent = { store: this.#open(datacenter, bucket), inUse: 0, evicted: false };
      // May evict another bucket's store, never this one (the most recently used).
      this.#others.set(id, lent);
    }
    lent.inUse += 1;
    const borrowed = lent;
    return {
      store: borrowed.store,
      release: () => {
        borrowed.inUse -= 1;
        if (borrowed.evicted && borrowed.inUse === 0 && this.#retiring.delete(borrowed)) void borrowed.store.close().catch(() => undefined);
      },
    };
  }

  #retire(lent: Lent): void {
    lent.evicted = true;
    if (lent.inUse > 0) this.#retiring.add(lent);
    else void lent.store.close().catch(() => undefined);
  }

  #open(datacenter: string, bucket: string): ObjectStore {
    const dc = this.#config(datacenter);
    return this.#factory(
      { datacenter, endpoint: dc.s3.endpoint, region: dc.s3.region, bucket, forcePathStyle: dc.s3.forcePathStyle ?? true, credentials: dc.s3.credentials ?? { type: 'none' } },
      {
        ...this.#options,
        ...(dc.s3.listing === undefined ? {} : { listing: dc.s3.listing }),
        ...(dc.s3.artifacts === 's3proxy' && !this.#listArtifacts ? { listExclude: isS3ProxyArtifact } : {}),
      },
    );
  }

  #assertOpen(datacenter: string, bucket?: string): void {
    if (this.#closed) throw new StoreClosedError(`the stores of datacenter ${datacenter}${bucket === undefined ? '' : ` (bucket "${bucket}")`} are closed: the process is shutting down`);
  }

  #config(datacenter: string): DatacenterStoreConfig {
    const dc = this.#datacenters.get(datacenter);
    if (dc === undefined) {
      throw new ObjectStoreConfigError(`datacenter "${datacenter}" is not in the topology; known: ${[...this.#datacenters.keys()].join(', ')}`);
    }
    return dc;
  }
}
