import type { Readable } from 'node:stream';
import { finished } from 'node:stream';
import type {
  AbortUploadOptions, CopyOptions, CopyResult, DeleteOptions, GetOptions, GetResult, HeadOptions, ListEntry, ListOptions, ListUploadsOptions, ObjectInfo, ObjectStore,
  PutOptions, PutResult, UploadEntry,
} from './types.js';

/** A store lent for one operation; `release` once the operation (a GET's body included) is over. */
export interface StoreLease {
  readonly store: ObjectStore;
  release(): void;
}

/**
 * A bucket's store as a {@link StorePool} hands it out when it may close the real store at any
 * time (an evicted bucket). Each operation borrows the pool's current store for the bucket (the
 * pool opens one again if it was evicted) and gives it back when it ends, so the pool closes a
 * store only once nothing runs on it, and a caller may keep this object as long as it likes.
 * `close()` does nothing: the pool owns the stores.
 */
export class PooledStore implements ObjectStore {
  readonly datacenter: string;
  readonly bucket: string;
  readonly #borrow: () => StoreLease;

  constructor(datacenter: string, bucket: string, borrow: () => StoreLease) {
    this.datacenter = datacenter;
    this.bucket = bucket;
    this.#borrow = borrow;
  }

  ping(signal?: AbortSignal): Promise<void> {
    return this.#run((s) => s.ping(signal));
  }

  head(key: string, options?: HeadOptions): Promise<ObjectInfo | undefined> {
    return this.#run((s) => s.head(key, options));
  }

  /** The store stays borrowed until the body ends, fails or is destroyed: closing it would cut the body. */
  async get(key: string, options?: GetOptions): Promise<GetResult> {
    const lease = this.#borrow();
    let result: GetResult;
    try {
      result = await lease.store.get(key, options);
    } catch (err) {
      lease.release();
      throw err;
    }
    releaseWhenDone(result.body, lease);
    return result;
  }

  put(key: string, body: Readable | Uint8Array, options?: PutOptions): Promise<PutResult> {
    return this.#run((s) => s.put(key, body, options));
  }

  copy(sourceKey: string, destinationKey: string, options?: CopyOptions): Promise<CopyResult> {
    return this.#run((s) => s.copy(sourceKey, destinationKey, options));
  }

  delete(key: string, options?: DeleteOptions): Promise<void> {
    return this.#run((s) => s.delete(key, options));
  }

  /** Borrowed from the first page until the listing ends or the caller stops iterating. */
  async *list(options?: ListOptions): AsyncGenerator<ListEntry, void, undefined> {
    const lease = this.#borrow();
    try {
      yield* lease.store.list(options);
    } finally {
      lease.release();
    }
  }

  /** Borrowed like {@link list}. */
  async *listUploads(options?: ListUploadsOptions): AsyncGenerator<UploadEntry, void, undefined> {
    const lease = this.#borrow();
    try {
      yield* lease.store.listUploads(options);
    } finally {
      lease.release();
    }
  }

  abortUpload(key: string, uploadId: string, options?: AbortUploadOptions): Promise<boolean> {
    return this.#run((s) => s.abortUpload(key, uploadId, options));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  async #run<T>(operation: (store: ObjectStore) => Promise<T>): Promise<T> {
    const lease = this.#borrow();
    try {
      return await operation(lease.store);
    } finally {
      lease.release();
    }
  }
}

function releaseWhenDone(body: Readable, lease: StoreLease): void {
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    lease.release();
  };
  // `finished` reports the end, an error or a premature close; 'close' covers a body destroyed
  // before it was ever read.
  finished(body, release);
  body.once('close', release);
}
