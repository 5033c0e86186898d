import type { Readable } from 'node:stream';
import type {
  AbortUploadOptions, CopyOptions, CopyResult, DeleteOptions, GetOptions, GetResult, HeadOptions, ListEntry, ListOptions, ListUploadsOptions, ObjectInfo, ObjectStore,
  PutOptions, PutResult, UploadEntry,
} from './types.js';

/**
 * An {@link ObjectStore} that hands every call to another one: the base of views that change a
 * few calls (count them, filter a listing) and leave the rest as they are. Closing is not handed
 * on: the inner store belongs to whoever created it (e.g. a `StorePool`), not to the view.
 */
export class DelegatingStore implements ObjectStore {
  readonly datacenter: string;
  readonly bucket: string;
  protected readonly inner: ObjectStore;

  constructor(inner: ObjectStore) {
    this.datacenter = inner.datacenter;
    this.bucket = inner.bucket;
    this.inner = inner;
  }

  ping(signal?: AbortSignal): Promise<void> {
    return this.inner.ping(signal);
  }

  head(key: string, options?: HeadOptions): Promise<ObjectInfo | undefined> {
    return this.inner.head(key, options);
  }

  get(key: string, options?: GetOptions): Promise<GetResult> {
    return this.inner.get(key, options);
  }

  put(key: string, body: Readable | Uint8Array, options?: PutOptions): Promise<PutResult> {
    return this.inner.put(key, body, options);
  }

  copy(sourceKey: string, destinationKey: string, options?: CopyOptions): Promise<CopyResult> {
    return this.inner.copy(sourceKey, destinationKey, options);
  }

  delete(key: string, options?: DeleteOptions): Promise<void> {
    return this.inner.delete(key, options);
  }

  list(options?: ListOptions): AsyncIterable<ListEntry> {
    return this.inner.list(options);
  }

  listUploads(options?: ListUploadsOptions): AsyncIterable<UploadEntry> {
    return this.inner.listUploads(options);
  }

  abortUpload(key: string, uploadId: string, options?: AbortUploadOptions): Promise<boolean> {
    return this.inner.abortUpload(key, uploadId, options);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
