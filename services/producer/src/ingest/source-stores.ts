import type { ObjectInfo, StorePool } from '@shardsync/objectstore';

/** Where the sources of announced puts are looked up (POST /v1/events). */
export interface SourceLookup {
  /** HEAD of `key` in `bucket` on a datacenter's endpoint; `undefined` when it does not exist. */
  head(datacenter: string, bucket: string, key: string): Promise<ObjectInfo | undefined>;
}

/**
 * Looks sources up through the service's store pool. A service may announce objects in any
 * bucket, so the bucket name comes from the request: the pool keeps only a bounded number of
 * stores of other buckets than the topology's open (see `StorePool.at`), so a caller cannot grow
 * memory and sockets without bound.
 */
export function sourcesIn(pool: Pick<StorePool, 'at'>): SourceLookup {
  return { head: (datacenter, bucket, key) => pool.at(datacenter, bucket).head(key) };
}
