/** Stable codes for every failure this package reports, so callers and scripts can match on them. */
export type ObjectStoreErrorCode =
  | 'SHARDSYNC_STORE_UNAVAILABLE'
  | 'SHARDSYNC_OBJECT_NOT_FOUND'
  | 'SHARDSYNC_PRECONDITION_FAILED'
  | 'SHARDSYNC_ACCESS_DENIED'
  | 'SHARDSYNC_NO_SUCH_BUCKET'
  | 'SHARDSYNC_INVALID_RANGE'
  | 'SHARDSYNC_SIZE_MISMATCH'
  | 'SHARDSYNC_ETAG_RULE_VIOLATED'
  | 'SHARDSYNC_STORE_ABORTED'
  | 'SHARDSYNC_STORE_REQUEST_REJECTED'
  | 'SHARDSYNC_STORE_INVALID_ARGUMENT'
  | 'SHARDSYNC_STORE_CONFIG_INVALID'
  | 'SHARDSYNC_STORE_CLOSED'
  | 'SHARDSYNC_STORE_UNEXPECTED'
  | 'SHARDSYNC_STORE_UNSUPPORTED'
  | 'SHARDSYNC_SOURCE_FAILED';

/** Options every {@link ObjectStoreError} takes. */
export interface ObjectStoreErrorOptions {
  /** Whether the same call may succeed if tried again later. */
  readonly retriable: boolean;
  /** The foreign error this one classifies, if any. */
  readonly cause?: unknown;
  /** HTTP status of the S3 response, when there was one. */
  readonly statusCode?: number | undefined;
}

/**
 * Base class of every error this package throws. `code` is stable; `retriable` tells the
 * caller's retry loop whether trying again can help; `cause` keeps the SDK or socket error.
 *
 * Checksum mismatches are the one exception: they are `ChecksumMismatchError` from
 * `@shardsync/integrity` (code `SHARDSYNC_CHECKSUM_MISMATCH`, not retriable), shared by every package.
 */
export class ObjectStoreError extends Error {
  readonly code: ObjectStoreErrorCode;
  readonly retriable: boolean;
  readonly statusCode: number | undefined;

  constructor(code: ObjectStoreErrorCode, message: string, options: ObjectStoreErrorOptions) {
    super(message, { cause: options.cause });
    this.name = 'ObjectStoreError';
    this.code = code;
    this.retriable = options.retriable;
    this.statusCode = options.statusCode;
  }
}

type SubclassOptions = Omit<ObjectStoreErrorOptions, 'retriable'>;

/** The store could not be reached or asked us to slow down (5xx, throttling, timeouts, resets). Retriable. */
export class StoreUnavailableError extends ObjectStoreError {
  constructor(message: string, options: SubclassOptions = {}) {
    super('SHARDSYNC_STORE_UNAVAILABLE', message, { ...options, retriable: true });
    this.name = 'StoreUnavailableError';
  }
}

/** The key does not exist (a GET or copy source). `head()` returns `undefined` instead. Not retriable. */
export class ObjectNotFoundError extends ObjectStoreError {
  constructor(message: string, options: SubclassOptions = {}) {
    super('SHARDSYNC_OBJECT_NOT_FOUND', message, { ...options, retriable: false });
    this.name = 'ObjectNotFoundError';
  }
}

/**
 * A conditional write or read did not hold (`If-None-Match: *` on an existing key, or `If-Match`
 * with another ETag). Not retriable as is: re-read the object and decide again.
 */
export class PreconditionFailedError extends ObjectStoreError {
  constructor(message: string, options: SubclassOptions = {}) {
    super('SHARDSYNC_PRECONDITION_FAILED', message, { ...options, retriable: false });
    this.name = 'PreconditionFailedError';
  }
}

/** Credentials were refused or lack a permission. Not retriable: fix the credentials or the policy. */
export class AccessDeniedError extends ObjectStoreError {
  constructor(message: string, options: SubclassOptions = {}) {
    super('SHARDSYNC_ACCESS_DENIED', message, { ...options, retriable: false });
    this.name = 'AccessDeniedError';
  }
}

/** The configured bucket does not exist on the endpoint. Not retriable: create it or fix the topology. */
export class NoSuchBucketError extends ObjectStoreError {
  constructor(message: string, options: SubclassOptions = {}) {
    super('SHARDSYNC_NO_SUCH_BUCKET', message, { ...options, retriable: false });
    this.name = 'NoSuchBucketError';
  }
}

/** A ranged GET asked for bytes the object does not have. Not retriable. */
export class InvalidRangeError extends ObjectStoreError {
  constructor(message: string, options: SubclassOptions = {}) {
    super('SHARDSYNC_INVALID_RANGE', message, { ...options, retriable: false });
    this.name = 'InvalidRangeError';
  }
}

/** A body was shorter or longer than the size the caller announced. Nothing was stored. Not retriable. */
export class SizeMismatchError extends ObjectStoreError {
  constructor(message: string) {
    super('SHARDSYNC_SIZE_MISMATCH', message, { retriable: false });
    this.name = 'SizeMismatchError';
  }
}

/**
 * The server returned an ETag that does not follow the MD5 rule (see `expectedEtag`), e.g. because
 * it encrypts with SSE-KMS or computes ETags its own way. The reconciler's listing comparison relies
 * on the rule, so this is a deployment problem, not a transient one. Not retriable.
 */
export class EtagRuleViolationError extends ObjectStoreError {
  constructor(message: string) {
    super('SHARDSYNC_ETAG_RULE_VIOLATED', message, { retriable: false });
    this.name = 'EtagRuleViolationError';
  }
}

/** The caller's `AbortSignal` fired. Not retriable: the caller asked to stop. */
export class OperationAbortedError extends ObjectStoreError {
  constructor(message: string, options: SubclassOptions = {}) {
    super('SHARDSYNC_STORE_ABORTED', message, { ...options, retriable: false });
    this.name = 'OperationAbortedError';
  }
}

/** The server rejected the request for a reason that retrying will not change (other 4xx, 501). */
export class RequestRejectedError extends ObjectStoreError {
  constructor(message: string, options: SubclassOptions = {}) {
    super('SHARDSYNC_STORE_REQUEST_REJECTED', message, { ...options, retriable: false });
    this.name = 'RequestRejectedError';
  }
}

/** A call was made with arguments that cannot work (bad key, range, metadata, digest). Not retriable. */
export class InvalidArgumentError extends ObjectStoreError {
  constructor(message: string) {
    super('SHARDSYNC_STORE_INVALID_ARGUMENT', message, { retriable: false });
    this.name = 'InvalidArgumentError';
  }
}

/** Options or credentials are invalid or missing. Not retriable: fix the configuration. */
export class ObjectStoreConfigError extends ObjectStoreError {
  constructor(message: string) {
    super('SHARDSYNC_STORE_CONFIG_INVALID', message, { retriable: false });
    this.name = 'ObjectStoreConfigError';
  }
}

/** The store was used after `close()`. Not retriable. */
export class StoreClosedError extends ObjectStoreError {
  constructor(message: string) {
    super('SHARDSYNC_STORE_CLOSED', message, { retriable: false });
    this.name = 'StoreClosedError';
  }
}

/**
 * The server (or a wrapper of the store) does not offer an operation at all, e.g. listing
 * incomplete multipart uploads. Not retriable: a caller that can do without it skips it.
 */
export class UnsupportedOperationError extends ObjectStoreError {
  constructor(message: string, options: SubclassOptions = {}) {
    super('SHARDSYNC_STORE_UNSUPPORTED', message, { ...options, retriable: false });
    this.name = 'UnsupportedOperationError';
  }
}

/**
 * A failure the classifier does not recognise (a bug, or an SDK error shape it does not know).
 * Not retriable, so an unknown failure is surfaced rather than retried forever.
 */
export class UnexpectedStoreError extends ObjectStoreError {
  constructor(message: string, options: SubclassOptions = {}) {
    super('SHARDSYNC_STORE_UNEXPECTED', message, { ...options, retriable: false });
    this.name = 'UnexpectedStoreError';
  }
}

/**
 * Reading the body given to put() failed (the upstream stream errored or closed early). Nothing
 * was stored. Retriable when the cause is a network error or timeout, since the caller can open
 * the source again.
 */
export class SourceStreamError extends ObjectStoreError {
  constructor(message: string, options: ObjectStoreErrorOptions) {
    super('SHARDSYNC_SOURCE_FAILED', message, options);
    this.name = 'SourceStreamError';
  }
}
