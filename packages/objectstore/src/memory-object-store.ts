import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { InvalidRangeError, ObjectNotFoundError, OperationAbortedError, PreconditionFailedError, StoreClosedError } from './errors.js';
import { etagOfBytes, normalizeEtag } from './etag.js';
import { compileObjectStoreOptions, type CompiledObjectStoreOptions, type ObjectStoreOptions } from './options.js';
import { PartReader } from './part-reader.js';
import { assertSha256, preparePut, putFailure } from './put-common.js';
import type {
  AbortUploadOptions, CopyOptions, CopyResult, DeleteOptions, GetOptions, GetResult, HeadOptions, ListEntry, ListOptions, ListUploadsOptions, ObjectInfo, ObjectStore,
  PutOptions, PutResult, UploadEntry,
} from './types.js';
import {
  assertConditions, normalizeConditions, normalizeMetadata, validateKey, validateListOptions, validateListUploadsOptions, validateRange, validateUpload,
} from './validate.js';

/** The operations a {@link MemoryObjectStore} can be made to fail or pause in. */
export type MemoryOperation = 'ping' | 'head' | 'get' | 'put' | 'copy' | 'delete' | 'list' | 'listUploads' | 'abortUpload';

/** A failure to inject: the next `times` matching calls reject with `error`. */
export interface MemoryFault {
  readonly operation: MemoryOperation | '*';
  /** Only calls on this key (or matching keys). Default: any key. */
  readonly key?: string | RegExp | undefined;
  /** The error to throw, e.g. `new StoreUnavailableError('injected')`; a function makes a fresh one per call. */
  readonly error: Error | (() => Error);
  /** How many calls fail. Default 1; `Infinity` until removed. */
  readonly times?: number | undefined;
}

/** Options of {@link MemoryObjectStore}; the ETag-relevant ones mean what they mean for the S3 store. */
export interface MemoryObjectStoreOptions extends ObjectStoreOptions {
  /** Default `memory`. */
  readonly datacenter?: string | undefined;
  /** Default `memory`. */
  readonly bucket?: string | undefined;
  /** Clock for `lastModified`. Default `() => new Date()`. */
  readonly now?: (() => Date) | undefined;
  /** Runs at the start of every operation (for a list, every page); may throw or wait, e.g. to stage a race. */
  readonly beforeOperation?: ((operation: MemoryOperation, key: string | undefined) => void | Promise<void>) | undefined;
}

interface StoredObject {
  readonly data: Buffer;
  readonly info: ObjectInfo;
}

/**
 * An in-memory {@link ObjectStore} for unit tests of the consumer, producer and reconciler: the
 * same ETag rule, native conditional-write semantics, metadata lower-casing, key order (UTF-8
 * bytes), ranged reads and argument checks as the S3 store, plus fault injection. Bodies are
 * held whole in memory, so it is not for large objects.
 *
 * put() stores a body in one step, so it never leaves an incomplete multipart upload behind; a
 * test that needs one (a writer that died mid-upload) makes it with {@link beginUpload}.
 */
export class MemoryObjectStore implements ObjectStore {
  readonly datacenter: string;
  readonly bucket: string;
  readonly options: CompiledObjectStoreOptions;
  readonly #objects = new Map<string, StoredObject>();
  /** Incomplete multipart uploads by upload id. */
  readonly #uploads = new Map<string, UploadEntry>();
  readonly #faults: Array<{ fault: MemoryFault; left: number }> = [];
  readonly #now: () => Date;
  readonly #beforeOperation: MemoryObjectStoreOptions['beforeOperation'];
  #closed = false;

  constructor(options: MemoryObjectStoreOptions = {}) {
    this.options = compileObjectStoreOptions(options);
    this.datacenter = options.datacenter ?? 'memory';
    this.bucket = options.bucket ?? 'memory';
    this.#now = options.now ?? (() => new Date());
    this.#beforeOperation = options.beforeOperation;
  }

  /** Makes matching calls fail; returns a function that removes the fault. */
  injectFault(fault: MemoryFault): () => void {
    const entry = { fault, left: fault.times ?? 1 };
    this.#faults.push(entry);
    return () => {
      const i = this.#faults.indexOf(entry);
      if (i >= 0) this.#faults.splice(i, 1);
    };
  }

  /** The stored bytes and info of a key, without running hooks or faults (for assertions). */
  peek(key: string): { readonly data: Buffer; readonly info: ObjectInfo } | undefined {
    return this.#objects.get(key);
  }

  /**
   * Begins a multipart upload that nobody completes, as a writer that died mid-upload leaves it;
   * returns its id. `initiatedMs` defaults to the store's clock.
   */
  beginUpload(key: string, initiatedMs: number = this.#now().getTime()): string {
    validateKey(key);
    const uploadId = randomUUID();
    this.#uploads.set(uploadId, { key, uploadId, initiatedMs });
    return uploadId;
  }

  /** Every incomplete upload, in listing order, without running hooks or faults (for assertions). */
  uploads(): UploadEntry[] {
    return [...this.#uploads.values()].sort(compareUploads);
  }

  /** Every key, in listing order. */
  keys(): string[] {
    return [...this.#objects.keys()].sort(compareKeys);
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await this.#enter('ping', undefined, signal);
  }

  async head(key: string, options: HeadOptions = {}): Promise<ObjectInfo | undefined> {
    validateKey(key);
    await this.#enter('head', key, options.signal);
    return this.#objects.get(key)?.info;
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    validateKey(key);
    if (options.range !== undefined) validateRange(options.range);
    await this.#enter('get', key, options.signal);
    const stored = this.#objects.get(key);
    if (stored === undefined) throw new ObjectNotFoundError(`GetObject of key ${JSON.stringify(key)} in bucket "${this.bucket}" failed: the object does not exist`, { statusCode: 404 });
    if (options.ifMatch !== undefined && normalizeEtag(options.ifMatch) !== stored.info.etag) {
      throw new PreconditionFailedError(`GetObject of key ${JSON.stringify(key)}: If-Match ${normalizeEtag(options.ifMatch)} failed, its ETag is ${stored.info.etag}`, { statusCode: 412 });
    }
    let data = stored.data;
    if (options.range !== undefined) {
      const { start, end } = options.range;
      if (start >= data.byteLength) throw new InvalidRangeError(`GetObject of key ${JSON.stringify(key)}: range starts at ${start}, the object has ${data.byteLength} bytes`, { statusCode: 416 });
      data = data.subarray(start, Math.min(end + 1, data.byteLength));
    }
    return { info: stored.info, body: Readable.from([data], { objectMode: false }) };
  }

  async put(key: string, body: Readable | Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const prepared = preparePut(key, options, this.options);
    const reader = new PartReader(body, this.options.partSizeBytes, { size: prepared.size, maxBytes: this.options.maxObjectBytes });
    const parts: Buffer[] = [];
    try {
      await this.#enter('put', key, options.signal);
      for (let part = await reader.next(); part !== undefined; part = await reader.next()) {
        if (options.signal?.aborted === true) throw this.#aborted('put', key);
        parts.push(part);
      }
    } catch (err) {
      reader.destroy();
      throw putFailure(err, key);
    }
    const data = Buffer.concat(parts);
    assertSha256(key, prepared.expectedSha256, reader.sha256, data.byteLength);
    assertConditions(this.#objects.get(key)?.info, prepared.conditions, `PutObject of key ${JSON.stringify(key)}`);
    const info = this.#store(key, data, prepared.metadata, prepared.contentType);
    return { etag: info.etag, size: data.byteLength, sha256: reader.sha256 };
  }

  async copy(sourceKey: string, destinationKey: string, options: CopyOptions = {}): Promise<CopyResult> {
    validateKey(sourceKey, 'source key');
    validateKey(destinationKey, 'destination key');
    const conditions = normalizeConditions(options);
    const metadata = options.metadata === undefined ? undefined : normalizeMetadata(options.metadata);
    await this.#enter('copy', destinationKey, options.signal);
    const source = this.#objects.get(sourceKey);
    const what = `copy of key ${JSON.stringify(sourceKey)} to ${JSON.stringify(destinationKey)}`;
    if (source === undefined) throw new ObjectNotFoundError(`${what} failed: the source does not exist`, { statusCode: 404 });
    if (options.sourceIfMatch !== undefined && normalizeEtag(options.sourceIfMatch) !== source.info.etag) {
      throw new PreconditionFailedError(`${what} failed: the source's ETag is ${source.info.etag}`, { statusCode: 412 });
    }
    assertConditions(this.#objects.get(destinationKey)?.info, conditions, what);
    const info = this.#store(destinationKey, source.data, metadata ?? { ...source.info.metadata }, options.contentType ?? source.info.contentType);
    return { etag: info.etag, size: info.size };
  }

  async delete(key: string, options: DeleteOptions = {}): Promise<void> {
    validateKey(key);
    const conditions = normalizeConditions({ ifMatch: options.ifMatch });
    await this.#enter('delete', key, options.signal);
    assertConditions(this.#objects.get(key)?.info, conditions, `DeleteObject of key ${JSON.stringify(key)}`);
    this.#objects.delete(key);
  }

  async *list(options: ListOptions = {}): AsyncGenerator<ListEntry, void, undefined> {
    // Any order includes S3's: this store always lists sorted.
    const pageSize = validateListOptions(options, this.options.listPageSize);
    const prefix = options.prefix ?? '';
    let after = options.startAfter;
    for (;;) {
      await this.#enter('list', options.prefix, options.signal);
      // Like S3, a listing is not a snapshot: each page reflects the keys present when it is read.
      const page = this.keys()
        .filter((k) => k.startsWith(prefix) && (after === undefined || compareKeys(k, after) > 0) && this.options.listExclude?.(k) !== true)
        .slice(0, pageSize);
      for (const key of page) {
        const stored = this.#objects.get(key);
        if (stored !== undefined) yield { key, size: stored.info.size, etag: stored.info.etag, lastModified: stored.info.lastModified };
      }
      if (page.length < pageSize) return;
      after = page[page.length - 1];
    }
  }

  async *listUploads(options: ListUploadsOptions = {}): AsyncGenerator<UploadEntry, void, undefined> {
    const pageSize = validateListUploadsOptions(options, this.options.listPageSize);
    const prefix = options.prefix ?? '';
    let after: UploadEntry | undefined;
    for (;;) {
      await this.#enter('listUploads', options.prefix, options.signal);
      const page = this.uploads()
        .filter((u) => u.key.startsWith(prefix) && (after === undefined || compareUploads(u, after) > 0))
        .slice(0, pageSize);
      yield* page;
      if (page.length < pageSize) return;
      after = page[page.length - 1];
    }
  }

  async abortUpload(key: string, uploadId: string, options: AbortUploadOptions = {}): Promise<boolean> {
    validateUpload(key, uploadId);
    await this.#enter('abortUpload', key, options.signal);
    // Like S3, an upload id names an upload of one key only.
    if (this.#uploads.get(uploadId)?.key !== key) return false;
    return this.#uploads.delete(uploadId);
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  #store(key: string, data: Buffer, metadata: Record<string, string>, contentType: string | undefined): ObjectInfo {
    const info: ObjectInfo = { key, size: data.byteLength, etag: etagOfBytes(data, this.options), lastModified: this.#now(), metadata, contentType };
    this.#objects.set(key, { data, info });
    return info;
  }

  async #enter(operation: MemoryOperation, key: string | undefined, signal: AbortSignal | undefined): Promise<void> {
    if (this.#closed) throw new StoreClosedError(`${operation} on the memory object store "${this.datacenter}" after close()`);
    if (signal?.aborted === true) throw this.#aborted(operation, key);
    await this.#beforeOperation?.(operation, key);
    const entry = this.#faults.find(({ fault }) => (fault.operation === '*' || fault.operation === operation) && keyMatches(fault.key, key));
    if (entry === undefined) return;
    entry.left--;
    if (entry.left <= 0) this.#faults.splice(this.#faults.indexOf(entry), 1);
    throw typeof entry.fault.error === 'function' ? entry.fault.error() : entry.fault.error;
  }

  #aborted(operation: string, key: string | undefined): OperationAbortedError {
    return new OperationAbortedError(`${operation}${key === undefined ? '' : ` of key ${JSON.stringify(key)}`} was aborted by the caller`);
  }
}

function keyMatches(pattern: string | RegExp | undefined, key: string | undefined): boolean {
  if (pattern === undefined) return true;
  if (key === undefined) return false;
  return typeof pattern === 'string' ? pattern === key : pattern.test(key);
}

/** S3 orders keys by their UTF-8 bytes, which differs from JavaScript's UTF-16 order for astral characters. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** S3 lists uploads by key, then by initiation (the id breaks ties, so pages never repeat one). */
function compareUploads(a: UploadEntry, b: UploadEntry): number {
  return compareKeys(a.key, b.key) || a.initiatedMs - b.initiatedMs || (a.uploadId < b.uploadId ? -1 : a.uploadId > b.uploadId ? 1 : 0);
}
