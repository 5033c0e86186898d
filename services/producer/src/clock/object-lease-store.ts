import { randomUUID } from 'node:crypto';
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
 *
 * A write can land although its caller saw it fail (a timeout, a connection reset after the
 * server stored it, which the SDK then retries into a 412): that moves the ETag too. So every
 * record names the store instance that wrote it, and a failed condition is a takeover only when
 * the record there is not one of this instance's own.
 */
export class ObjectLeaseStore implements LeaseStore {
  readonly location: string;
  readonly #store: ObjectStore;
  readonly #producerId: string;
  readonly #key: string;
  /** The ETag of the record read or written last; undefined: there was none. */
  #etag: string | undefined;
  /** Random per instance (per process): tells this instance's records from another process's. */
  readonly #writer = randomUUID();

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
    const record = Buffer.from(JSON.stringify({ producerId: this.#producerId, boundMs, bound: new Date(boundMs).toISOString(), writer: this.#writer }));
    try {
      await this.#put(record);
      return;
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
      // One of our own writes that seemed to fail may have landed since (this one included).
      if (!(await this.#holdsOwnRecord())) throw this.#lost(err);
    }
    try {
      await this.#put(record);
    } catch (err) {
      throw err instanceof PreconditionFailedError ? this.#lost(err) : err;
    }
  }

  async #put(record: Buffer): Promise<void> {
    const condition = this.#etag === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: this.#etag };
    ({ etag: this.#etag } = await this.#store.put(this.#key, record, { contentType: 'application/json', ...condition }));
  }

  /** Whether the record stored now is one this instance wrote; if so, later writes are conditional on it. */
  async #holdsOwnRecord(): Promise<boolean> {
    let body;
    let etag;
    try {
      ({ body, info: { etag } } = await this.#store.get(this.#key));
    } catch (err) {
      // Deleted: not ours any more ("or the lease was deleted").
      if (err instanceof ObjectNotFoundError) return false;
      throw err;
    }
    const raw = await text(body);
    if (raw.length > MAX_RECORD_BYTES || writerOf(raw) !== this.#writer) return false;
    this.#etag = etag;
    return true;
  }

  #lost(cause: PreconditionFailedError): ClockLeaseError {
    return new ClockLeaseError(
      'SHARDSYNC_CLOCK_LEASE_LOST',
      `the clock lease at ${this.location} was written by someone else since this producer wrote it: another process runs with SHARDSYNC_PRODUCER_ID "${this.#producerId}" (each id must run once), or the lease was deleted. This producer issues no more versions; give every instance its own id and restart it`,
      { cause },
    );
  }
}

function writerOf(raw: string): string | undefined {
  try {
    const writer: unknown = (JSON.parse(raw) as { writer?: unknown } | null)?.writer;
    return typeof writer === 'string' ? writer : undefined;
  } catch {
    return undefined;
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
