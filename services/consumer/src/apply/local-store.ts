import type { Readable } from 'node:stream';
import type {
  AbortUploadOptions,
  CopyOptions,
  CopyResult,
  DeleteOptions,
  GetOptions,
  GetResult,
  HeadOptions,
  ListEntry,
  ListOptions,
  ListUploadsOptions,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  PutResult,
  UploadEntry,
} from '@shardsync/objectstore';
import { asLocalStoreError } from './errors.js';

/**
 * This datacenter's own store as the consumer sees it: every failure goes through
 * {@link asLocalStoreError}, so a missing bucket is a retriable `LocalBucketMissingError` (the
 * partition waits for the bucket) wherever the consumer touches its store: applies, the
 * tombstone index, and the readiness check. Peers' stores are not wrapped: a peer's missing
 * bucket is one unreadable source among others.
 */
export class LocalStore implements ObjectStore {
  readonly #inner: ObjectStore;

  constructor(inner: ObjectStore) {
    this.#inner = inner;
  }

  get datacenter(): string {
    return this.#inner.datacenter;
  }

  get bucket(): string {
    return this.#inner.bucket;
  }

  async #call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw asLocalStoreError(err, this.#inner);
    }
  }

  ping(signal?: AbortSignal): Promise<void> {
    return this.#call(() => this.#inner.ping(signal));
  }

  head(key: string, options?: HeadOptions): Promise<ObjectInfo | undefined> {
    return this.#call(() => this.#inner.head(key, options));
  }

  get(key: string, options?: GetOptions): Promise<GetResult> {
    return this.#call(() => this.#inner.get(key, options));
  }

  put(key: string, body: Readable | Uint8Array, options?: PutOptions): Promise<PutResult> {
    return this.#call(() => this.#inner.put(key, body, options));
  }

  copy(sourceKey: string, destinationKey: string, options?: CopyOptions): Promise<CopyResult> {
    return this.#call(() => this.#inner.copy(sourceKey, destinationKey, options));
  }

  delete(key: string, options?: DeleteOptions): Promise<void> {
    return this.#call(() => this.#inner.delete(key, options));
  }

  async *list(options?: ListOptions): AsyncIterable<ListEntry> {
    try {
      yield* this.#inner.list(options);
    } catch (err) {
      throw asLocalStoreError(err, this.#inner);
    }
  }

  async *listUploads(options?: ListUploadsOptions): AsyncIterable<UploadEntry> {
    try {
      yield* this.#inner.listUploads(options);
    } catch (err) {
      throw asLocalStoreError(err, this.#inner);
    }
  }

  abortUpload(key: string, uploadId: string, options?: AbortUploadOptions): Promise<boolean> {
    return this.#call(() => this.#inner.abortUpload(key, uploadId, options));
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
