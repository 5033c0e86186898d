import { text } from 'node:stream/consumers';
import { clockLeaseKeyOf } from '@shardsync/events';
import { ObjectNotFoundError, PreconditionFailedError, type ObjectStore } from '@shardsync/objectstore';
import { ClockLeaseError } from '../errors.js';
import type { LeaseStore } from './lease-store.js';

/** A lease record is a few dozen bytes; anything much larger is not one. */
const MAX_RECORD_BYTES = 4096;

/**
 * Keeps a producer's clock lease as a small JSON object in its origin datacenter's store, under
 * `.shardsync/producers/<producerId>/clock`. The object store, not Redis: Redis keeps nothing on
 * disk here, and a lease that a Redis restart forgets protects nothing.
 *
 * Fenced: every write is conditional on the record this store read or wrote last (`If-Match` on
 * its ETag, `If-None-Match: *` when there was none). A second process started with the same
 * producer id reads the record and writes its own, so the first one's next write fails: it
 * learns that it lost the lease ({@link ClockLeaseError} `SHARDSYNC_CLOCK_LEASE_LOST`) instead of
 * both issuing versions under one id (equal versions for different contents).
 */
export class ObjectLeaseStore implements LeaseStore {
  readonly location: string;
  readonly #store: ObjectStore;
  readonly #producerId: string;
  readonly #key: string;
  /** The ETag of the record read or written last; undefined: there was none. */
  #etag: string | undefined;

  constructor(store: ObjectStore, producerId: string) {
    this.#store = store;
    this.#producerId = producerId;
    this.#key = clockLeaseKeyOf(producerId);
    this.location = `${store.datacenter}:${store.bucket}/${this.#key}`;
  }

  async read(): Promise<number | undefined> {
    let body;
    try {
      ({ body, info: { etag: this.#etag } } = await this.#store.get(this.#key));
    } catch (err) {
      if (!(err instanceof ObjectNotFoundError)) throw err;
      this.#etag = undefined;
      return undefined;
    }
    const raw = await text(body);
    const boundMs = raw.length <= MAX_RECORD_BYTES ? parseBound(raw) : undefined;
    if (boundMs === undefined) {
      throw new ClockLeaseError(
        'SHARDSYNC_CLOCK_LEASE_UNREADABLE',
        `the clock lease at ${this.location} is not a lease record (expected JSON with "boundMs"); it is what keeps this producer's versions above those it issued before a restart. Restore it, or delete it once the wall clock is past every version producer "${this.#producerId}" issued`,
      );
    }
    return boundMs;
  }

  async write(boundMs: number): Promise<void> {
    const record = { producerId: this.#producerId, boundMs, bound: new Date(boundMs).toISOString() };
    const condition = this.#etag === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: this.#etag };
    try {
      ({ etag: this.#etag } = await this.#store.put(this.#key, Buffer.from(JSON.stringify(record)), { contentType: 'application/json', ...condition }));
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
      throw new ClockLeaseError(
        'SHARDSYNC_CLOCK_LEASE_LOST',
        `the clock lease at ${this.location} was written by someone else since this producer wrote it: another process runs with SHARDSYNC_PRODUCER_ID "${this.#producerId}" (each id must run once), or the lease was deleted. This producer issues no more versions; give every instance its own id and restart it`,
        { cause: err },
      );
    }
  }
}

function parseBound(raw: string): number | undefined {
  try {
    const boundMs: unknown = (JSON.parse(raw) as { boundMs?: unknown } | null)?.boundMs;
    return typeof boundMs === 'number' && Number.isSafeInteger(boundMs) && boundMs >= 0 ? boundMs : undefined;
  } catch {
    return undefined;
  }
}
