import { S3ObjectStore } from './s3-object-store.js';
import type { ListingStrategy, ObjectStoreOptions } from './options.js';
import type { S3Credentials } from './client.js';
import type { ObjectStore } from './types.js';
import { ObjectStoreConfigError } from './errors.js';

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
  };
}

/**
 * One store per (datacenter, bucket), created on first use and shared, so every caller reuses
 * the same keep-alive sockets. `close()` closes them all.
 */
export class StorePool {
  readonly #datacenters: ReadonlyMap<string, DatacenterStoreConfig>;
  readonly #options: ObjectStoreOptions;
  readonly #stores = new Map<string, ObjectStore>();
  readonly #factory: (config: ConstructorParameters<typeof S3ObjectStore>[0], options: ObjectStoreOptions) => ObjectStore;

  constructor(
    datacenters: readonly DatacenterStoreConfig[],
    options: ObjectStoreOptions = {},
    factory: (config: ConstructorParameters<typeof S3ObjectStore>[0], options: ObjectStoreOptions) => ObjectStore = (c, o) => new S3ObjectStore(c, o),
  ) {
    this.#datacenters = new Map(datacenters.map((d) => [d.name, d]));
    this.#options = options;
    this.#factory = factory;
  }

  /** The store of a datacenter's own bucket. */
  of(datacenter: string): ObjectStore {
    return this.at(datacenter, this.#config(datacenter).s3.bucket);
  }

  /** The store of any bucket on a datacenter's endpoint (e.g. a source a service announced). */
  at(datacenter: string, bucket: string): ObjectStore {
    const id = `${datacenter}\0${bucket}`;
    let store = this.#stores.get(id);
    if (store === undefined) {
      const dc = this.#config(datacenter);
      store = this.#factory(
        { datacenter, endpoint: dc.s3.endpoint, region: dc.s3.region, bucket, forcePathStyle: dc.s3.forcePathStyle ?? true, credentials: dc.s3.credentials ?? { type: 'none' } },
        dc.s3.listing === undefined ? this.#options : { ...this.#options, listing: dc.s3.listing },
      );
      this.#stores.set(id, store);
    }
    return store;
  }

  async close(): Promise<void> {
    const stores = [...this.#stores.values()];
    this.#stores.clear();
    await Promise.all(stores.map((s) => s.close().catch(() => undefined)));
  }

  #config(datacenter: string): DatacenterStoreConfig {
    const dc = this.#datacenters.get(datacenter);
    if (dc === undefined) {
      throw new ObjectStoreConfigError(`datacenter "${datacenter}" is not in the topology; known: ${[...this.#datacenters.keys()].join(', ')}`);
    }
    return dc;
  }
}
