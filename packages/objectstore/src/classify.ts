import {
  AccessDeniedError,
  InvalidRangeError,
  NoSuchBucketError,
  ObjectNotFoundError,
  ObjectStoreError,
  OperationAbortedError,
  PreconditionFailedError,
  RequestRejectedError,
  StoreUnavailableError,
  UnexpectedStoreError,
} from './errors.js';

/** What was being done when an error happened; every field is optional and only sharpens the message. */
export interface S3ErrorContext {
  /** S3 operation, e.g. `PutObject`. */
  readonly operation?: string;
  readonly datacenter?: string;
  readonly endpoint?: string;
  readonly bucket?: string;
  readonly key?: string;
}

/** Socket-level error codes that mean "the connection failed, a new one may work". */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** S3 error codes that are transient whatever their status says (S3 sends RequestTimeout as a 400). */
const TRANSIENT_S3_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequests',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'OperationAborted',
  'ConditionalRequestConflict',
  // The multipart upload vanished (aborted by a lifecycle rule or a concurrent cleanup): the
  // whole put can be tried again from the start.
  'NoSuchUpload',
]);

const ACCESS_CODES = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken']);

interface ErrorFacts {
  name: string | undefined;
  code: string | undefined;
  message: string;
  status: number | undefined;
  causeName: string | undefined;
}

function facts(err: unknown): ErrorFacts {
  const record = typeof err === 'object' && err !== null ? (err as Record<string, unknown>) : {};
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const metadata = record['$metadata'];
  const status =
    typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>)['httpStatusCode'] : undefined;
  const cause = record['cause'];
  return {
    name: str(record['name']),
    code: str(record['code']) ?? str(record['Code']),
    message: str(record['message']) ?? String(err),
    status: typeof status === 'number' ? status : undefined,
    causeName: typeof cause === 'object' && cause !== null ? str((cause as Record<string, unknown>)['name']) : undefined,
  };
}

function where(ctx: S3ErrorContext): string {
  const parts = [ctx.operation ?? 'S3 request'];
  if (ctx.key !== undefined) parts.push(`of key ${JSON.stringify(ctx.key)}`);
  if (ctx.bucket !== undefined) parts.push(`in bucket "${ctx.bucket}"`);
  if (ctx.endpoint !== undefined) parts.push(`at ${ctx.endpoint}`);
  if (ctx.datacenter !== undefined) parts.push(`(datacenter ${ctx.datacenter})`);
  return parts.join(' ');
}

/**
 * Turns anything an S3 call can throw (SDK service exceptions, socket errors, timeouts, aborts)
 * into an {@link ObjectStoreError} with a stable code and a `retriable` flag. Never throws;
 * an error that already is an `ObjectStoreError` is returned unchanged.
 *
 * Retriable: 5xx except 501, 429/503 throttling, 408 and S3's `RequestTimeout`, 409 conflicts, socket
 * errors (ECONNREFUSED, ECONNRESET, EPIPE, "socket hang up", ...) and timeouts.
 * Not retriable: 404 (not found / no such bucket), 412, 403, 416, 501 and other 4xx, aborts by the caller.
 */
export function classifyS3Error(err: unknown, context: S3ErrorContext = {}): ObjectStoreError {
  if (err instanceof ObjectStoreError) return err;
  try {
    return classify(err, context);
  } catch (classifierBug) {
    return new UnexpectedStoreError(`${where(context)} failed and its error could not be classified`, { cause: classifierBug });
  }
}

function classify(err: unknown, ctx: S3ErrorContext): ObjectStoreError {
  const f = facts(err);
  const at = where(ctx);
  const opts = { cause: err, statusCode: f.status };
  const s3Code = f.name ?? f.code;

  if (f.name === 'AbortError') {
    if (f.causeName === 'TimeoutError') return new StoreUnavailableError(`${at} timed out: ${f.message}`, opts);
    return new OperationAbortedError(`${at} was aborted by the caller`, opts);
  }
  if (f.status === undefined) {
    if (f.name === 'TimeoutError' || (f.code !== undefined && NETWORK_CODES.has(f.code)) || /socket hang up/i.test(f.message)) {
      return new StoreUnavailableError(
        `${at} failed: ${f.message}${f.code === undefined ? '' : ` (${f.code})`}; the S3 server is unreachable or slow, check that it runs and the endpoint is right`,
        opts,
      );
    }
    return new UnexpectedStoreError(`${at} failed unexpectedly: ${f.message}`, opts);
  }

  const status = f.status;
  if (s3Code === 'NoSuchBucket') {
    return new NoSuchBucketError(
      `${at} failed: bucket "${ctx.bucket ?? '?'}" does not exist at ${ctx.endpoint ?? 'the endpoint'}; create it or fix the datacenter's bucket in the topology`,
      opts,
    );
  }
  if (s3Code !== undefined && TRANSIENT_S3_CODES.has(s3Code)) {
    return new StoreUnavailableError(`${at} failed with ${s3Code} (HTTP ${status}); try again later`, opts);
  }
  if (status === 412 || s3Code === 'PreconditionFailed') {
    return new PreconditionFailedError(`${at} failed: a precondition (If-Match / If-None-Match) did not hold`, opts);
  }
  if (status === 404) return new ObjectNotFoundError(`${at} failed: the object does not exist`, opts);
  if (status === 403 || (s3Code !== undefined && ACCESS_CODES.has(s3Code))) {
    return new AccessDeniedError(`${at} was refused (${s3Code ?? 'HTTP 403'}); check the credentials and the bucket policy`, opts);
  }
  if (status === 416 || s3Code === 'InvalidRange') {
    return new InvalidRangeError(`${at} failed: the requested range is outside the object`, opts);
  }
  if (status === 501) {
    return new RequestRejectedError(
      `${at} failed: the server does not implement a header this request sent (${s3Code ?? 'NotImplemented'}); ` +
        'S3-compatible servers often reject the SDK default checksum headers, keep checksums WHEN_REQUIRED',
      opts,
    );
  }
  // 408: the server (or a proxy in front of it) gave up waiting for the request, a timeout like
  // any other; refused, the update behind it was dead-lettered.
  if (status === 408 || status === 429 || status === 409 || status >= 500) {
    return new StoreUnavailableError(`${at} failed with HTTP ${status} (${s3Code ?? 'no error code'}); try again later`, opts);
  }
  return new RequestRejectedError(`${at} was rejected with HTTP ${status} (${s3Code ?? 'no error code'}): ${f.message}`, opts);
}
