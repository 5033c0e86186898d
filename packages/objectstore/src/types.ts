import type { Readable } from 'node:stream';

/** What HEAD (and GET) tell about an object. */
export interface ObjectInfo {
  readonly key: string;
  /** Size of the whole object in bytes, also for a ranged GET. */
  readonly size: number;
  /** Quoted ETag, e.g. `"d41d8cd98f00b204e9800998ecf8427e"`; see `expectedEtag` for the rule. */
  readonly etag: string;
  readonly lastModified: Date;
  /** User metadata with lower-case keys and without the `x-amz-meta-` prefix. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly contentType: string | undefined;
}

/** One object of a listing. LIST carries no user metadata: HEAD the keys whose ETags differ. */
export interface ListEntry {
  readonly key: string;
  readonly size: number;
  /** Quoted ETag. */
  readonly etag: string;
  readonly lastModified: Date;
}

/** Write preconditions. At most one of the two may be given. */
export interface WriteConditions {
  /** `'*'`: write only if the key does not exist yet; otherwise `PreconditionFailedError`. */
  readonly ifNoneMatch?: '*' | undefined;
  /** Write only if the current object has this ETag (quoted or not); otherwise `PreconditionFailedError`. */
  readonly ifMatch?: string | undefined;
}

/** Options of {@link ObjectStore.head}. */
export interface HeadOptions {
  readonly signal?: AbortSignal | undefined;
}

/** An inclusive byte range, as in HTTP: `{ start: 0, end: 99 }` is the first 100 bytes. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** Options of {@link ObjectStore.get}. */
export interface GetOptions {
  readonly range?: ByteRange | undefined;
  /** Read only if the object still has this ETag, so ranged reads of one object stay consistent. */
  readonly ifMatch?: string | undefined;
  /** Also aborts reading the body: the body stream then fails and its socket is destroyed. */
  readonly signal?: AbortSignal | undefined;
}

/** The result of {@link ObjectStore.get}. */
export interface GetResult {
  readonly info: ObjectInfo;
  /**
   * The bytes (of the range, if one was asked for). The caller MUST either read it to the end or
   * call `body.destroy()`: an unread body holds its keep-alive socket forever and the pool runs dry.
   */
  readonly body: Readable;
}

/** Options of {@link ObjectStore.put}. */
export interface PutOptions extends WriteConditions {
  /** Announced size; when given, a body of any other length fails with `SizeMismatchError` and nothing is stored. */
  readonly size?: number | undefined;
  /**
   * User metadata (keys are lower-cased). It is sent before the body, so to record the body's
   * SHA-256 the caller puts the value it expects under `shardsync-sha256`; put() verifies it.
   */
  readonly metadata?: Readonly<Record<string, string>> | undefined;
  readonly contentType?: string | undefined;
  /**
   * Lower-case hex SHA-256 the body must have. On a mismatch nothing becomes visible under the key
   * (the single PUT is not sent; a multipart upload is aborted) and `ChecksumMismatchError` is thrown.
   * Defaults to the `shardsync-sha256` metadata value, if any.
   */
  readonly expectedSha256?: string | undefined;
  /**
   * The ETag the same body has where it is read from (another datacenter's copy, written the same
   * way). When it is a single-part ETag (the body's MD5) and the body goes as one PutObject, that
   * MD5 is sent as Content-MD5 instead of hashing the body again. The server refuses a body that
   * does not match it; put() then hashes the body itself and sends it again, so a wrong claim costs
   * a request, never a wrong object. Ignored otherwise.
   */
  readonly sourceEtag?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** The result of {@link ObjectStore.put}. */
export interface PutResult {
  readonly etag: string;
  readonly size: number;
  /** Lower-case hex SHA-256 of the bytes stored. */
  readonly sha256: string;
}

/** Options of {@link ObjectStore.copy}. */
export interface CopyOptions extends WriteConditions {
  /** Metadata of the new object (replaces the source's). Default: the source's metadata. */
  readonly metadata?: Readonly<Record<string, string>> | undefined;
  /** Default: the source's content type. */
  readonly contentType?: string | undefined;
  /** Copy only if the source has this ETag. */
  readonly sourceIfMatch?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  /**
   * Called with the bytes of each part a multipart copy finished: a copy of many GiB takes
   * minutes, and a caller's watchdog must be able to tell it from a hung one.
   */
  readonly onProgress?: ((bytes: number) => void) | undefined;
}

/** The result of {@link ObjectStore.copy}. */
export interface CopyResult {
  readonly etag: string;
  readonly size: number;
}

/** Options of {@link ObjectStore.delete}. */
export interface DeleteOptions {
  /** Delete only if the object has this ETag; `PreconditionFailedError` otherwise (also when it is missing). */
  readonly ifMatch?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Options of {@link ObjectStore.list}. */
export interface ListOptions {
  readonly prefix?: string | undefined;
  /** List keys strictly after this one (in S3's UTF-8 byte order). */
  readonly startAfter?: string | undefined;
  /** Keys per request. Default: the store's `listPageSize`. */
  readonly pageSize?: number | undefined;
  /**
   * `sorted` (default): S3's key order. `any`: the caller does not need an order, so the store may
   * list the way its server answers fastest (the store's `listing` option); not with `startAfter`.
   */
  readonly order?: 'sorted' | 'any' | undefined;
  readonly signal?: AbortSignal | undefined;
}

/**
 * A multipart upload that was begun and neither completed nor aborted. Its parts take space but
 * are in no listing of objects; only completing or aborting the upload frees them.
 */
export interface UploadEntry {
  readonly key: string;
  readonly uploadId: string;
  /** When the upload was begun (CreateMultipartUpload), in ms since the epoch, by the server's clock. */
  readonly initiatedMs: number;
}

/** Options of {@link ObjectStore.listUploads}. */
export interface ListUploadsOptions {
  readonly prefix?: string | undefined;
  /** Uploads per request (1 to 1000). Default: the store's `listPageSize`. */
  readonly pageSize?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Options of {@link ObjectStore.abortUpload}. */
export interface AbortUploadOptions {
  readonly signal?: AbortSignal | undefined;
}

/**
 * The object store of one datacenter, as the consumer, producer and reconciler see it.
 *
 * Every implementation writes a given body the same way (see `expectedEtag`), so equal content
 * has equal ETags in every datacenter. Methods reject with `ObjectStoreError` subclasses
 * (checksum mismatches with `@shardsync/integrity`'s `ChecksumMismatchError`).
 */
export interface ObjectStore {
  readonly datacenter: string;
  readonly bucket: string;
  /** Checks that the bucket is reachable (HeadBucket). For readiness probes. */
  ping(signal?: AbortSignal): Promise<void>;
  /** The object's info, or `undefined` if the key does not exist. */
  head(key: string, options?: HeadOptions): Promise<ObjectInfo | undefined>;
  /** Opens the object for reading; `ObjectNotFoundError` if it does not exist. Read or destroy the body. */
  get(key: string, options?: GetOptions): Promise<GetResult>;
  /** Stores a body, streaming it with bounded memory; see {@link PutOptions}. */
  put(key: string, body: Readable | Uint8Array, options?: PutOptions): Promise<PutResult>;
  /** Server-side copy within the bucket, written with the same layout (and so ETag) as put(). */
  copy(sourceKey: string, destinationKey: string, options?: CopyOptions): Promise<CopyResult>;
  /** Deletes the key; deleting a missing key succeeds (unless `ifMatch` is given). */
  delete(key: string, options?: DeleteOptions): Promise<void>;
  /** All keys (under a prefix), in S3's order (or any order, see {@link ListOptions.order}), page by page. */
  list(options?: ListOptions): AsyncIterable<ListEntry>;
  /**
   * The incomplete multipart uploads (under a prefix), in S3's order (key, then initiation), page
   * by page; `UnsupportedOperationError` when the server cannot list them.
   */
  listUploads(options?: ListUploadsOptions): AsyncIterable<UploadEntry>;
  /**
   * Aborts an incomplete multipart upload, freeing its parts. Resolves `true` when it aborted it,
   * `false` when the server no longer knows the upload (completed or aborted meanwhile), so an
   * abort raced by another collector or by the writer itself is not an error. Aborting an upload
   * still in progress makes its writer fail: callers abort only uploads too old to be running.
   */
  abortUpload(key: string, uploadId: string, options?: AbortUploadOptions): Promise<boolean>;
  /** Releases sockets. Idempotent; later calls fail with `StoreClosedError`. */
  close(): Promise<void>;
}
