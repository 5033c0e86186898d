/** Codes the producer answers with (JSON `{ error, message }`), see the producer's errors.ts. */
export type ProducerErrorCode =
  | 'SHARDSYNC_UNAUTHORIZED'
  | 'SHARDSYNC_FORBIDDEN'
  | 'SHARDSYNC_UNKNOWN_DATASET'
  | 'SHARDSYNC_NOT_FOUND'
  | 'SHARDSYNC_INVALID_KEY'
  | 'SHARDSYNC_INVALID_REQUEST'
  | 'SHARDSYNC_CHECKSUM_MISMATCH'
  | 'SHARDSYNC_REQUEST_TIMEOUT'
  | 'SHARDSYNC_IDEMPOTENCY_IN_PROGRESS'
  | 'SHARDSYNC_BODY_TOO_LARGE'
  | 'SHARDSYNC_SOURCE_MISMATCH'
  | 'SHARDSYNC_IDEMPOTENCY_KEY_REUSED'
  /** Only in the producer's metrics and log: the client closed the connection before its body ended, so no answer reaches it. */
  | 'SHARDSYNC_CLIENT_CLOSED_REQUEST'
  | 'SHARDSYNC_UNAVAILABLE'
  | 'SHARDSYNC_INTERNAL';

/** Codes of failures the client detects itself, before or instead of an answer from the producer. */
export type ClientErrorCode =
  /** `compileClientOptions` refused an option. */
  | 'SHARDSYNC_CLIENT_INVALID_OPTIONS'
  /** A call's arguments cannot be sent (bad metadata name, malformed sha256, ...). */
  | 'SHARDSYNC_CLIENT_INVALID_ARGUMENT'
  /** The producer could not be reached or the connection broke. Retriable. */
  | 'SHARDSYNC_CLIENT_NETWORK'
  /** Connecting took longer than `connectTimeoutMs`, or the connection idled longer than `idleTimeoutMs`. Retriable. */
  | 'SHARDSYNC_CLIENT_TIMEOUT'
  /** The caller's signal aborted the call. */
  | 'SHARDSYNC_CLIENT_ABORTED'
  /** `close()` was called. */
  | 'SHARDSYNC_CLIENT_CLOSED'
  /** The caller's body stream failed while it was being sent. */
  | 'SHARDSYNC_CLIENT_BODY_FAILED'
  /** The answer was not the producer's JSON (e.g. a proxy's error page). */
  | 'SHARDSYNC_CLIENT_BAD_RESPONSE';

/** Every code a {@link ShardsyncClientError} can carry; unknown future server codes pass through as strings. */
export type ShardsyncErrorCode = ProducerErrorCode | ClientErrorCode | (string & {});

/**
 * HTTP statuses after which the same request may succeed: 408 (the producer stopped waiting for
 * a body that stalled), 409 (the same Idempotency-Key is still in progress), 429, and the
 * 502/503/504 of the producer or a proxy in front of it.
 */
export const RETRIABLE_STATUSES: ReadonlySet<number> = new Set([408, 409, 429, 502, 503, 504]);

export interface ShardsyncClientErrorOptions {
  /** The HTTP status, when the producer (or a proxy) answered. */
  status?: number | undefined;
  retriable: boolean;
  cause?: unknown;
  /** The Idempotency-Key the call used: pass it again to retry the call later. */
  idempotencyKey?: string | undefined;
  /** Attempts made, the first included. */
  attempts?: number | undefined;
}

/** Why a call failed: the producer's `code` and `status`, or a client-side code. */
export class ShardsyncClientError extends Error {
  readonly code: ShardsyncErrorCode;
  /** HTTP status of the answer; undefined when there was none (network, timeout, abort). */
  readonly status: number | undefined;
  /** Whether the same call may succeed later. The client already retried it as its policy allows. */
  readonly retriable: boolean;
  /** The call's Idempotency-Key: retrying with it later cannot apply the update twice. */
  readonly idempotencyKey: string | undefined;
  /** Attempts made before giving up, the first included; one aborted before it left counts (0 for a call refused before its first attempt). */
  readonly attempts: number;

  constructor(code: ShardsyncErrorCode, message: string, options: ShardsyncClientErrorOptions) {
    super(message, { cause: options.cause });
    this.name = 'ShardsyncClientError';
    this.code = code;
    this.status = options.status;
    this.retriable = options.retriable;
    this.idempotencyKey = options.idempotencyKey;
    this.attempts = options.attempts ?? 0;
  }
}

export function invalidArgument(message: string): ShardsyncClientError {
  return new ShardsyncClientError('SHARDSYNC_CLIENT_INVALID_ARGUMENT', message, { retriable: false });
}

/** The same error with the call's idempotency key and attempt count, and an optional note appended. */
export function withCallContext(err: ShardsyncClientError, context: { idempotencyKey: string; attempts: number; note?: string | undefined }): ShardsyncClientError {
  const message = context.note === undefined ? err.message : `${err.message} (${context.note})`;
  return new ShardsyncClientError(err.code, message, {
    status: err.status,
    retriable: err.retriable,
    cause: err.cause,
    idempotencyKey: context.idempotencyKey,
    attempts: context.attempts,
  });
}

/** The same error, its message prefixed with the call it ended (for errors of a request that carried several calls). */
export function forCall(err: ShardsyncClientError, what: string): ShardsyncClientError {
  if (err.code === 'SHARDSYNC_CLIENT_ABORTED' || err.code === 'SHARDSYNC_CLIENT_CLOSED') return err;
  return new ShardsyncClientError(err.code, `${what}: ${err.message}`, { status: err.status, retriable: err.retriable, cause: err.cause });
}

// Node socket error codes after which the producer may well answer a new connection.
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/**
 * Turns what node:http threw into a {@link ShardsyncClientError}. Never throws. Connection
 * failures are retriable (the Idempotency-Key makes a repeat safe even if the first request
 * reached the producer); an unknown host is not, because that is a configuration mistake.
 */
export function classifyNetworkError(err: unknown, target: string): ShardsyncClientError {
  if (err instanceof ShardsyncClientError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const detail = typeof e.message === 'string' ? e.message : String(err);
  if (code === 'ENOTFOUND') {
    return new ShardsyncClientError('SHARDSYNC_CLIENT_NETWORK', `cannot resolve the producer's host (${target}): ${detail}; check baseUrl`, { retriable: false, cause: err });
  }
  const transient = code === undefined || TRANSIENT_NETWORK_CODES.has(code);
  return new ShardsyncClientError('SHARDSYNC_CLIENT_NETWORK', `the producer at ${target} could not be reached or dropped the connection: ${detail}`, { retriable: transient, cause: err });
}

/** The error a call ends with when its signal aborts: the client's own reason (closed) or the caller's. */
export function abortError(signal: AbortSignal): ShardsyncClientError {
  const reason: unknown = signal.reason;
  if (reason instanceof ShardsyncClientError) return reason;
  const detail = reason instanceof Error ? reason.message : String(reason);
  return new ShardsyncClientError('SHARDSYNC_CLIENT_ABORTED', `the call was aborted: ${detail}`, { retriable: false, cause: reason });
}
