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
  | 'SHARDSYNC_LOCAL_ACCESS_DENIED';

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
 * The bucket of this consumer's own datacenter does not exist. For the object store that is a
 * request that cannot succeed (`NoSuchBucketError`, not retriable), but for the consumer it says
 * nothing about the event: the environment is not ready (an operator has not created the bucket
 * yet, or it was lost). So it is retriable, like a store that is down: the partition waits and
 * nothing is dead-lettered.
 */
export class LocalBucketMissingError extends ApplyError {
  readonly datacenter: string;
  readonly bucket: string;

  constructor(datacenter: string, bucket: string, cause?: unknown) {
    super(
      'SHARDSYNC_NO_SUCH_BUCKET',
      `bucket "${bucket}" of datacenter ${datacenter} does not exist; updates for ${datacenter} wait until it does: create it (\`shardsync init\` creates the buckets of the topology) or fix the bucket in the topology`,
      { retriable: true, cause },
    );
    this.name = 'LocalBucketMissingError';
    this.datacenter = datacenter;
    this.bucket = bucket;
  }
}

/**
 * The consumer's own store refused it access (expired or rotated credentials, clock skew, a
 * policy being changed). For the object store that is final, but it says nothing about the
 * event: every update would fail alike until the credentials are fixed, so it is retriable and
 * the partition waits, visibly, instead of dead-lettering every update of the moment.
 */
export class LocalAccessDeniedError extends ApplyError {
  readonly datacenter: string;
  readonly bucket: string;

  constructor(datacenter: string, bucket: string, cause?: unknown) {
    super(
      'SHARDSYNC_LOCAL_ACCESS_DENIED',
      `the store of datacenter ${datacenter} refused access to bucket "${bucket}"; updates for ${datacenter} wait until it accepts this consumer's credentials (check them, the server's clock and the bucket policy)`,
      { retriable: true, cause },
    );
    this.name = 'LocalAccessDeniedError';
    this.datacenter = datacenter;
    this.bucket = bucket;
  }
}

/** The stable code of any error, for dead-letter headers and metrics labels. */
export function codeOf(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'SHARDSYNC_UNEXPECTED';
}

/**
 * What an error of the consumer's own store means to the consumer: a missing bucket or refused
 * access becomes retriable ({@link LocalBucketMissingError}, {@link LocalAccessDeniedError})
 * naming the datacenter and bucket; anything else is returned unchanged (the object store's
 * classification stands: an invalid key, say, is the event's and is dead-lettered). Never throws.
 */
export function asLocalStoreError(err: unknown, store: { readonly datacenter: string; readonly bucket: string }): unknown {
  if (err instanceof ApplyError) return err;
  const code = codeOf(err);
  if (code === 'SHARDSYNC_NO_SUCH_BUCKET') return new LocalBucketMissingError(store.datacenter, store.bucket, err);
  if (code === 'SHARDSYNC_ACCESS_DENIED') return new LocalAccessDeniedError(store.datacenter, store.bucket, err);
  return err;
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
