import { isRetriable } from '@shardsync/runtime';

/** Stable codes of the consumer's own failures. */
export type ApplyErrorCode =
  | 'SHARDSYNC_SOURCE_UNAVAILABLE'
  /** The only source found has other bytes, and no peer holds the version (yet): see SHARDSYNC_SOURCE_MISMATCH_WAIT_MS. */
  | 'SHARDSYNC_SOURCE_BYTES_MISMATCH'
  | 'SHARDSYNC_SOURCE_MISSING'
  | 'SHARDSYNC_DIGEST_MISMATCH_ALL_SOURCES'
  | 'SHARDSYNC_UNKNOWN_DATASET'
  | 'SHARDSYNC_APPLY_CONFLICT'
  | 'SHARDSYNC_NO_SUCH_BUCKET'
  | 'SHARDSYNC_LOCAL_ACCESS_DENIED'
  /** This datacenter's store failed in a way that is not the event's fault (LocalStoreFailedError). */
  | 'SHARDSYNC_LOCAL_STORE_FAILED';

/** An apply that failed; `retriable` decides between waiting and dead-lettering. */
export class ApplyError extends Error {
  readonly code: ApplyErrorCode;
  readonly retriable: boolean;

  constructor(code: ApplyErrorCode, message: string, options: { retriable: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = 'ApplyError';
    this.code = code;
    this.retriable = options.retriable;
  }
}

/**
 * A failure of this consumer's own store that says nothing about the event: retriable, so the
 * partition waits (visibly: an error logged at each attempt naming the datacenter and the bucket,
 * `shardsync_consumer_apply_retries_total{code}`) instead of dead-lettering valid updates that
 * this datacenter would then miss until a reconcile. The wait ends when the service closes.
 */
export abstract class LocalStoreError extends ApplyError {
  readonly datacenter: string;
  readonly bucket: string;

  constructor(code: ApplyErrorCode, message: string, store: { readonly datacenter: string; readonly bucket: string }, cause?: unknown) {
    super(code, message, { retriable: true, cause });
    this.datacenter = store.datacenter;
    this.bucket = store.bucket;
  }
}

/**
 * The bucket of this consumer's own datacenter does not exist. For the object store that is a
 * request that cannot succeed (`NoSuchBucketError`, not retriable), but for the consumer it says
 * nothing about the event: the environment is not ready (an operator has not created the bucket
 * yet, or it was lost). So it is retriable, like a store that is down: the partition waits and
 * nothing is dead-lettered.
 */
export class LocalBucketMissingError extends LocalStoreError {
  constructor(datacenter: string, bucket: string, cause?: unknown) {
    super(
      'SHARDSYNC_NO_SUCH_BUCKET',
      `bucket "${bucket}" of datacenter ${datacenter} does not exist; updates for ${datacenter} wait until it does: create it (\`shardsync init\` creates the buckets of the topology) or fix the bucket in the topology`,
      { datacenter, bucket },
      cause,
    );
    this.name = 'LocalBucketMissingError';
  }
}

/**
 * The consumer's own store refused it access (expired or rotated credentials, clock skew, a
 * policy being changed). For the object store that is final, but it says nothing about the
 * event: every update would fail alike until the credentials are fixed, so it is retriable and
 * the partition waits, visibly, instead of dead-lettering every update of the moment.
 */
export class LocalAccessDeniedError extends LocalStoreError {
  constructor(datacenter: string, bucket: string, cause?: unknown) {
    super(
      'SHARDSYNC_LOCAL_ACCESS_DENIED',
      `the store of datacenter ${datacenter} refused access to bucket "${bucket}"; updates for ${datacenter} wait until it accepts this consumer's credentials (check them, the server's clock and the bucket policy)`,
      { datacenter, bucket },
      cause,
    );
    this.name = 'LocalAccessDeniedError';
  }
}

/**
 * Any other failure of the consumer's own store that the object store does not retry and that
 * is not the event's fault: an error the S3 classifier does not recognise (an SDK or socket
 * error of a new shape), the store client closed under a request, a request the server rejects
 * (a 4xx or 501 its configuration causes), an ETag rule the server breaks. Valid updates must not
 * go to the dead-letter topic for them: the partition waits until the store works again or an
 * operator fixes it.
 */
export class LocalStoreFailedError extends LocalStoreError {
  constructor(store: { readonly datacenter: string; readonly bucket: string }, cause: unknown) {
    super(
      'SHARDSYNC_LOCAL_STORE_FAILED',
      `the store of datacenter ${store.datacenter} failed on bucket "${store.bucket}" (${codeOf(cause)}); updates for ${store.datacenter} wait until it works again: check the store and the consumer's log`,
      store,
      cause,
    );
    this.name = 'LocalStoreFailedError';
  }
}

/** The stable code of any error, for dead-letter headers and metrics labels. */
export function codeOf(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'SHARDSYNC_UNEXPECTED';
}

/**
 * Failures of the consumer's own store that keep the object store's classification: the event's
 * own fault (a key or metadata the store cannot take, inline bytes that are not its SHA-256), the
 * bytes of a source failing while they stream in (the transfer tries the next source), and what
 * the caller handles itself (a precondition that did not hold is a conflict, a missing object a
 * missing source, an abort the service closing).
 */
const KEPT_AS_CLASSIFIED = new Set([
  'SHARDSYNC_STORE_INVALID_ARGUMENT',
  'SHARDSYNC_CHECKSUM_MISMATCH',
  'SHARDSYNC_SIZE_MISMATCH',
  'SHARDSYNC_SOURCE_FAILED',
  'SHARDSYNC_PRECONDITION_FAILED',
  'SHARDSYNC_OBJECT_NOT_FOUND',
  'SHARDSYNC_STORE_ABORTED',
]);

/**
 * S3 error codes of a request the server refuses because of what this one object is (its size,
 * key or metadata), not because the store or the consumer's settings are wrong: the store works
 * for other updates, so retrying would only stop the partition behind this one for good.
 */
const REFUSED_FOR_THE_OBJECT = new Set(['EntityTooLarge', 'EntityTooSmall', 'KeyTooLongError', 'MetadataTooLarge', 'InvalidObjectName', 'InvalidArgument']);

/** Whether the store answered that it refuses this object itself (a 4xx with one of {@link REFUSED_FOR_THE_OBJECT}). */
function refusedForTheObject(err: unknown, code: string): boolean {
  if (code !== 'SHARDSYNC_STORE_REQUEST_REJECTED') return false;
  const cause = (err as { cause?: { name?: unknown; Code?: unknown } }).cause;
  const s3Code = cause?.name ?? cause?.Code;
  return typeof s3Code === 'string' && REFUSED_FOR_THE_OBJECT.has(s3Code);
}

/**
 * What an error of the consumer's own store means to the consumer. Only a failure proven to be
 * the event's fault may dead-letter it, so everything else becomes retriable: a missing bucket
 * or refused access ({@link LocalBucketMissingError}, {@link LocalAccessDeniedError}), and any
 * other failure the object store does not retry ({@link LocalStoreFailedError}), each naming the
 * datacenter and bucket. Retriable errors (the store down or slow), those in
 * {@link KEPT_AS_CLASSIFIED} and a refusal of the object itself ({@link REFUSED_FOR_THE_OBJECT})
 * are returned unchanged. Never throws.
 */
export function asLocalStoreError(err: unknown, store: { readonly datacenter: string; readonly bucket: string }): unknown {
  if (err instanceof ApplyError || isRetriable(err)) return err;
  const code = codeOf(err);
  if (KEPT_AS_CLASSIFIED.has(code) || refusedForTheObject(err, code)) return err;
  if (code === 'SHARDSYNC_NO_SUCH_BUCKET') return new LocalBucketMissingError(store.datacenter, store.bucket, err);
  if (code === 'SHARDSYNC_ACCESS_DENIED') return new LocalAccessDeniedError(store.datacenter, store.bucket, err);
  return new LocalStoreFailedError(store, err);
}

/**
 * Runs a write whose precondition failing means the key changed since its state was read
 * (another writer, e.g. a reconciler repair): that becomes SHARDSYNC_APPLY_CONFLICT, on which the
 * applier reads the state again and decides again.
 */
export async function conflictOnPrecondition<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (codeOf(err) === 'SHARDSYNC_PRECONDITION_FAILED') {
      throw new ApplyError('SHARDSYNC_APPLY_CONFLICT', 'the key changed while it was being written', { retriable: true, cause: err });
    }
    throw err;
  }
}
