import { ObjectStoreConfigError } from './errors.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** S3's smallest allowed part (every part but the last). */
export const MIN_PART_SIZE_BYTES = 5 * MiB;
/** S3's largest part, and its largest single PutObject / CopyObject. */
export const MAX_SINGLE_REQUEST_BYTES = 5 * GiB;
/** S3's limit on parts per multipart upload. */
export const MAX_PARTS = 10_000;

/**
 * How conditional writes (`ifNoneMatch: '*'`, `ifMatch`) are enforced.
 *
 * - `native`: send `If-None-Match` / `If-Match` and trust the server. Right for AWS S3. A server
 *   that ignores the headers silently overwrites: s3proxy 2.6.0 ignores them on every write,
 *   4.1.0 on CopyObject only.
 * - `emulated`: HEAD the key and compare before writing (and again just before completing a
 *   multipart upload). Racy: another writer can slip in between the HEAD and the write. Safe when
 *   one writer owns the key, which the consumer guarantees per partition (keys hash to partitions
 *   and each datacenter's group gives a partition to one member); during a rebalance a zombie
 *   member can still race, and the highest-version rule plus the reconciler repair that.
 * - `auto`: on the first conditional write, probe the server once (a small object under
 *   `.shardsync/probe/`, written twice and copied onto itself with `If-None-Match: *`, then
 *   deleted with an `If-Match` it does not have) and use `native` for each kind of request
 *   (writes, CopyObject, DeleteObject) the server answered with 412, else `emulated`.
 */
export type ConditionalWriteMode = 'native' | 'emulated' | 'auto';

/** What a user may pass; every field is optional and has a documented default. */
export interface ObjectStoreOptions {
  /**
   * Objects of at most this many bytes are written with one PutObject (ETag = MD5 of the body);
   * larger ones as multipart with `partSizeBytes` parts. Every datacenter must use the same value,
   * or equal content gets different ETags. Default 16 MiB; at most 5 GiB. put() buffers up to
   * this many bytes before the PUT, so the checksum is verified before anything is sent.
   */
  singlePutMaxBytes?: number;
  /** The one fixed part size of multipart uploads and copies. Same rule as above. Default 16 MiB; 5 MiB to 5 GiB. */
  partSizeBytes?: number;
  /** Parts of one put() or copy() in flight at once. Default 4; 1 to 64. */
  partConcurrency?: number;
  /** See {@link ConditionalWriteMode}. Default `auto`. */
  conditionalWrites?: ConditionalWriteMode;
  /**
   * Check that the server's ETags follow the MD5 rule and fail with `EtagRuleViolationError`
   * otherwise (before completing, for multipart). Default true.
   */
  verifyEtags?: boolean;
  /** Keys per ListObjectsV2 page. Default 1000; 1 to 1000. */
  listPageSize?: number;
  /**
   * How a listing that needs no order (`list({ order: 'any' })`, e.g. the reconciler's scan) is
   * done. `flat` (default): one recursive listing, the cheapest on AWS S3. `folders`: folder by
   * folder (`/` delimiter), `listConcurrency` folders at once, for servers whose recursive listing
   * walks the whole subtree for every page (s3proxy's filesystem backends: quadratic in the keys).
   */
  listing?: ListingStrategy;
  /** Folders listed at once by a `folders` listing. Default 8; 1 to 64. */
  listConcurrency?: number;
  /**
   * Send bodies as `UNSIGNED-PAYLOAD` rather than hashing them for the SigV4 signature. Default
   * true: integrity comes from Content-MD5 and shardsync's own SHA-256; set false for servers
   * that demand signed payloads.
   */
  unsignedPayload?: boolean;
  /**
   * Keys that list() skips. Default none. Use {@link isS3ProxyArtifact} with s3proxy's filesystem
   * backends, which list in-progress uploads and temporary files as objects.
   */
  listExclude?: (key: string) => boolean;
  /** Time to establish a TCP (and TLS) connection. Default 5000 ms. */
  connectionTimeoutMs?: number;
  /**
   * Time from sending a request until the response headers arrive, including uploading the body
   * (a part or a single PUT). Default 120000 ms; size it for `partSizeBytes` over the slowest link.
   */
  requestTimeoutMs?: number;
  /** A socket with no traffic for this long is destroyed, including while a GET body is read. Default 30000 ms. */
  socketIdleTimeoutMs?: number;
  /** Sockets per store (keep-alive pool). Default 64. */
  maxSockets?: number;
  /** SDK attempts per request, including the first. Default 2: retries belong to the callers, who know what is safe. */
  maxAttempts?: number;
  /** Time allowed for cleanup requests (AbortMultipartUpload) after a failure. Default 15000 ms. */
  cleanupTimeoutMs?: number;
}

/** {@link ObjectStoreOptions} validated, with every default filled in. */
export interface CompiledObjectStoreOptions {
  readonly singlePutMaxBytes: number;
  readonly partSizeBytes: number;
  readonly partConcurrency: number;
  readonly conditionalWrites: ConditionalWriteMode;
  readonly verifyEtags: boolean;
  readonly unsignedPayload: boolean;
  readonly listPageSize: number;
  readonly listing: ListingStrategy;
  readonly listConcurrency: number;
  readonly listExclude: ((key: string) => boolean) | undefined;
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly socketIdleTimeoutMs: number;
  readonly maxSockets: number;
  readonly maxAttempts: number;
  readonly cleanupTimeoutMs: number;
  /** Largest object a put() accepts: `partSizeBytes` x 10,000 parts. */
  readonly maxObjectBytes: number;
}

/** See {@link ObjectStoreOptions.listing}. */
export type ListingStrategy = 'flat' | 'folders';

function listingStrategy(value: ListingStrategy | undefined): ListingStrategy {
  if (value === undefined || value === 'flat' || value === 'folders') return value ?? 'flat';
  throw new ObjectStoreConfigError(`object store option listing must be "flat" or "folders", got ${JSON.stringify(value)}`);
}

function int(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new ObjectStoreConfigError(`object store option ${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return v;
}

/**
 * Validates options and fills defaults. Throws {@link ObjectStoreConfigError} naming the bad field.
 * Memory needed by one put() is about `max(singlePutMaxBytes + partSizeBytes, partSizeBytes x (partConcurrency + 1))`.
 */
export function compileObjectStoreOptions(options: ObjectStoreOptions = {}): CompiledObjectStoreOptions {
  const partSizeBytes = int('partSizeBytes', options.partSizeBytes, 16 * MiB, MIN_PART_SIZE_BYTES, MAX_SINGLE_REQUEST_BYTES);
  const mode = options.conditionalWrites ?? 'auto';
  if (mode !== 'native' && mode !== 'emulated' && mode !== 'auto') {
    throw new ObjectStoreConfigError(`object store option conditionalWrites must be "native", "emulated" or "auto", got ${JSON.stringify(mode)}`);
  }
  return {
    singlePutMaxBytes: int('singlePutMaxBytes', options.singlePutMaxBytes, 16 * MiB, 0, MAX_SINGLE_REQUEST_BYTES),
    partSizeBytes,
    partConcurrency: int('partConcurrency', options.partConcurrency, 4, 1, 64),
    conditionalWrites: mode,
    verifyEtags: options.verifyEtags ?? true,
    unsignedPayload: options.unsignedPayload ?? true,
    listPageSize: int('listPageSize', options.listPageSize, 1000, 1, 1000),
    listing: listingStrategy(options.listing),
    listConcurrency: int('listConcurrency', options.listConcurrency, 8, 1, 64),
    listExclude: options.listExclude,
    connectionTimeoutMs: int('connectionTimeoutMs', options.connectionTimeoutMs, 5_000, 1, 600_000),
    requestTimeoutMs: int('requestTimeoutMs', options.requestTimeoutMs, 120_000, 1, 3_600_000),
    socketIdleTimeoutMs: int('socketIdleTimeoutMs', options.socketIdleTimeoutMs, 30_000, 1, 3_600_000),
    maxSockets: int('maxSockets', options.maxSockets, 64, 1, 4096),
    maxAttempts: int('maxAttempts', options.maxAttempts, 2, 1, 10),
    cleanupTimeoutMs: int('cleanupTimeoutMs', options.cleanupTimeoutMs, 15_000, 1, 600_000),
    maxObjectBytes: partSizeBytes * MAX_PARTS,
  };
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const S3PROXY_ARTIFACT = new RegExp(`^\\.mpus-${UUID}-|^${UUID}$|-${UUID}$`);

/**
 * True for the keys s3proxy's `filesystem` backends show in ListObjectsV2 although no client wrote
 * them: while a multipart upload runs, `.mpus-<uploadId>-<key>-stub`, `.mpus-<uploadId>-<key>-<part>`
 * and a bare `<uploadId>`; while any object is written, its temporary file `<key>-<uuid>`. Real S3
 * never lists such keys. Pass as `listExclude` for s3proxy; it also hides user keys that end in
 * `-<lower-case UUID>`, so do not use it where such keys exist.
 */
export function isS3ProxyArtifact(key: string): boolean {
  return S3PROXY_ARTIFACT.test(key);
}
