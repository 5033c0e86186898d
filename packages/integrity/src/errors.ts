/** Stable codes for every integrity failure, so callers and scripts can match on them. */
export type IntegrityErrorCode =
  | 'SHARDSYNC_CHECKSUM_MISMATCH'
  | 'SHARDSYNC_INVALID_DIGEST_INPUT'
  | 'SHARDSYNC_INVALID_DIGEST_SUMMARY'
  | 'SHARDSYNC_INCOMPATIBLE_DIGEST_TREES';

/** Base class of every error this package throws. `retriable` says whether trying again can help. */
export class IntegrityError extends Error {
  readonly code: IntegrityErrorCode;
  readonly retriable: boolean;

  constructor(code: IntegrityErrorCode, message: string, options: { retriable: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = 'IntegrityError';
    this.code = code;
    this.retriable = options.retriable;
  }
}

/** What the bytes were supposed to be, and what they turned out to be. */
export interface ChecksumMismatchDetails {
  readonly expectedSha256: string;
  readonly expectedSize: number | undefined;
  /** Undefined when the stream was stopped early because it was already too long. */
  readonly actualSha256: string | undefined;
  readonly actualSize: number;
}

/**
 * The bytes that flowed do not match the expected SHA-256 or size.
 *
 * Not retriable: reading the same source again yields the same wrong bytes, so the event is
 * dead-lettered and the reconciler repairs the object from a healthy copy.
 */
export class ChecksumMismatchError extends IntegrityError {
  readonly details: ChecksumMismatchDetails;

  constructor(details: ChecksumMismatchDetails, what = 'body') {
    super('SHARDSYNC_CHECKSUM_MISMATCH', describeMismatch(details, what), { retriable: false });
    this.name = 'ChecksumMismatchError';
    this.details = details;
  }
}

function describeMismatch(d: ChecksumMismatchDetails, what: string): string {
  const expected = `sha256 ${d.expectedSha256}${d.expectedSize === undefined ? '' : `, ${d.expectedSize} bytes`}`;
  const actual =
    d.actualSha256 === undefined
      ? `more than ${d.expectedSize ?? 0} bytes (stopped after ${d.actualSize})`
      : `sha256 ${d.actualSha256}, ${d.actualSize} bytes`;
  return `${what} does not match its checksum: expected ${expected}, got ${actual}; the bytes were corrupted or truncated in transit or at rest, so they must not be stored`;
}

/** Input to a hash or digest tree was malformed (bad option, bad expected digest, duplicate key). */
export class InvalidDigestInputError extends IntegrityError {
  constructor(message: string) {
    super('SHARDSYNC_INVALID_DIGEST_INPUT', message, { retriable: false });
    this.name = 'InvalidDigestInputError';
  }
}

/** A serialised digest-tree summary could not be read (wrong format, corrupt, truncated). */
export class InvalidDigestSummaryError extends IntegrityError {
  constructor(message: string, cause?: unknown) {
    super('SHARDSYNC_INVALID_DIGEST_SUMMARY', message, { retriable: false, cause });
    this.name = 'InvalidDigestSummaryError';
  }
}

/**
 * Two digest trees were built with different shapes or prefixes, so their nodes cover different
 * key sets and comparing them would report every bucket as different.
 */
export class IncompatibleDigestTreesError extends IntegrityError {
  constructor(message: string) {
    super('SHARDSYNC_INCOMPATIBLE_DIGEST_TREES', message, { retriable: false });
    this.name = 'IncompatibleDigestTreesError';
  }
}
