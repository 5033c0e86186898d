/** Stable codes of every error the producer API answers with. */
export const PRODUCER_ERRORS = {
  SHARDSYNC_UNAUTHORIZED: 401,
  SHARDSYNC_FORBIDDEN: 403,
  SHARDSYNC_UNKNOWN_DATASET: 404,
  SHARDSYNC_NOT_FOUND: 404,
  SHARDSYNC_INVALID_KEY: 400,
  SHARDSYNC_INVALID_REQUEST: 400,
  SHARDSYNC_CHECKSUM_MISMATCH: 400,
  SHARDSYNC_REQUEST_TIMEOUT: 408,
  SHARDSYNC_IDEMPOTENCY_IN_PROGRESS: 409,
  SHARDSYNC_BODY_TOO_LARGE: 413,
  SHARDSYNC_SOURCE_MISMATCH: 422,
  SHARDSYNC_IDEMPOTENCY_KEY_REUSED: 422,
  /** Never delivered: the client closed the connection before its body ended (nginx's 499). Counted and logged as the client's doing, not a 5xx. */
  SHARDSYNC_CLIENT_CLOSED_REQUEST: 499,
  SHARDSYNC_UNAVAILABLE: 503,
  SHARDSYNC_INTERNAL: 500,
} as const;

export type ProducerErrorCode = keyof typeof PRODUCER_ERRORS;

/**
 * An error the API reports as JSON `{ error: code, message }` with the code's HTTP status.
 * `retriable` tells clients whether the same request may succeed later (503, 409, 408).
 */
export class ProducerError extends Error {
  readonly code: ProducerErrorCode;
  readonly status: number;
  readonly retriable: boolean;

  constructor(code: ProducerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProducerError';
    this.code = code;
    this.status = PRODUCER_ERRORS[code];
    this.retriable = this.status === 503 || this.status === 409 || this.status === 408;
  }
}

/**
 * Codes of {@link ClockLeaseError}: the lease could not be persisted in time (retriable), the
 * stored one cannot be read, or another process of the same producer id took it over (neither
 * retriable: someone has to look at it).
 */
export type ClockLeaseErrorCode = 'SHARDSYNC_CLOCK_LEASE_UNAVAILABLE' | 'SHARDSYNC_CLOCK_LEASE_UNREADABLE' | 'SHARDSYNC_CLOCK_LEASE_LOST';

/**
 * The producer's clock may not issue a version: doing so without a persisted bound above it could
 * let a restart reuse versions (see `ClockLease`). The API answers it as 503 when retriable.
 */
export class ClockLeaseError extends Error {
  readonly code: ClockLeaseErrorCode;
  readonly retriable: boolean;

  constructor(code: ClockLeaseErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClockLeaseError';
    this.code = code;
    this.retriable = code === 'SHARDSYNC_CLOCK_LEASE_UNAVAILABLE';
  }
}
