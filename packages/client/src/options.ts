import { ShardsyncClientError } from './errors.js';

/** How failed calls are repeated. Only retriable failures are (see README of the client). */
export interface RetryOptions {
  /** Attempts in all, the first included; 1 turns retries off. Default 5. */
  maxAttempts?: number;
  /** Ceiling of the first backoff delay, in ms. Default 200. */
  initialDelayMs?: number;
  /** Ceiling of any backoff delay (and of a `Retry-After` the server asks for), in ms. Default 10000. */
  maxDelayMs?: number;
}

/** Passed to {@link ShardsyncClientOptions.onRetry} before each backoff wait. */
export interface RetryEvent {
  /** Why the attempt failed. */
  error: ShardsyncClientError;
  /** The attempt that failed, 1 for the first. */
  attempt: number;
  delayMs: number;
  idempotencyKey: string;
}

/**
 * Coalescing of small updates: puts of bytes or strings up to `maxItemBytes`, and deletes, that are
 * called while others are pending travel together in one `POST /v1/batch` request. Each call
 * still gets its own answer, error and retries (with its own idempotency key).
 */
export interface BatchOptions {
  /** Most updates in one request, at most 1000. Default 256. */
  maxItems?: number;
  /** Most bytes in one request (bodies and their descriptions; one item always fits). Default 4 MiB; keep it under the producer's SHARDSYNC_PRODUCER_BATCH_MAX_BYTES. */
  maxBytes?: number;
  /** Larger bodies are sent with their own PUT. Default 64 KiB. */
  maxItemBytes?: number;
  /** Batch requests in flight at once; more updates wait for one to finish. Default 4. */
  maxRequests?: number;
  /**
   * How a batch request is encoded. `binary` (default): raw bodies after JSON descriptions, read
   * by producers since the binary form exists; `json`: bodies in base64, which every producer
   * reads. A producer older than the binary form refuses it with a 400 the client recognises: it
   * sends the same items again as JSON and keeps to JSON for a minute before trying binary again,
   * so clients may be upgraded before the producers.
   */
  format?: BatchFormat;
}

export type BatchFormat = 'binary' | 'json';

/** What a user passes to the client. Everything but `token` is optional. */
export interface ShardsyncClientOptions {
  /** The producer's base URL, e.g. `https://shardsync.internal:18080`; a path prefix is kept. Default `http://127.0.0.1:18080`. */
  baseUrl?: string;
  /** Bearer token, one of the producer's SHARDSYNC_PRODUCER_TOKENS. Required. */
  token: string;
  /** Time allowed to open a TCP (and TLS) connection, in ms. Default 10000. */
  connectTimeoutMs?: number;
  /**
   * Longest silence on an open connection, in ms: nothing sent and nothing received. Applies while
   * the body streams and while waiting for the answer (which comes after Kafka acknowledged the
   * event). It bounds stalls, not the duration of a large upload. Default 60000.
   */
  idleTimeoutMs?: number;
  /** Retry policy; see {@link RetryOptions} for the defaults. */
  retry?: RetryOptions;
  /** Most concurrent connections to the producer (kept alive between calls). Default 64. */
  maxSockets?: number;
  /**
   * How long a connection no call is using stays open for the next one, in ms. It must be shorter
   * than the producer's (or a proxy's) idle timeout: a connection the server closes just as a call
   * reuses it fails that call, and a streamed body cannot be sent again. A server's shorter
   * `Keep-Alive: timeout=` hint is honoured. Default 30000 (the producer keeps 72 s).
   */
  keepAliveMs?: number;
  /** Called before each retry wait, e.g. to log or count retries. */
  onRetry?: (event: RetryEvent) => void;
  /** Send small concurrent updates together (`true` for the defaults of {@link BatchOptions}). Default off: one request per call. */
  batch?: boolean | BatchOptions;
}

/** {@link ShardsyncClientOptions} validated and with every default filled in. */
export interface CompiledClientOptions {
  baseUrl: URL;
  token: string;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  retry: Required<RetryOptions>;
  maxSockets: number;
  keepAliveMs: number;
  onRetry: ((event: RetryEvent) => void) | undefined;
  batch: Required<BatchOptions> | undefined;
}

export const DEFAULT_BASE_URL = 'http://127.0.0.1:18080';
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_SOCKETS = 64;
export const DEFAULT_KEEP_ALIVE_MS = 30_000;
/** Most items the producer accepts in one `POST /v1/batch`. */
export const MAX_BATCH_ITEMS = 1000;
export const DEFAULT_BATCH: Readonly<Required<BatchOptions>> = { maxItems: 256, maxBytes: 4 * 1024 * 1024, maxItemBytes: 64 * 1024, maxRequests: 4, format: 'binary' };
export const DEFAULT_RETRY: Readonly<Required<RetryOptions>> = { maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 10_000 };

function invalid(message: string): ShardsyncClientError {
  return new ShardsyncClientError('SHARDSYNC_CLIENT_INVALID_OPTIONS', message, { retriable: false });
}

/**
 * The option names, per object: a misspelt one (`timeoutMs`, `retry.attempts`) is refused rather
 * than silently ignored. Records over the interfaces' keys, so the compiler keeps them complete.
 */
const CLIENT_OPTION_NAMES: Record<keyof ShardsyncClientOptions, true> = {
  baseUrl: true,
  token: true,
  connectTimeoutMs: true,
  idleTimeoutMs: true,
  retry: true,
  maxSockets: true,
  keepAliveMs: true,
  onRetry: true,
  batch: true,
};
const RETRY_OPTION_NAMES: Record<keyof RetryOptions, true> = { maxAttempts: true, initialDelayMs: true, maxDelayMs: true };
const BATCH_OPTION_NAMES: Record<keyof BatchOptions, true> = { maxItems: true, maxBytes: true, maxItemBytes: true, maxRequests: true, format: true };

function refuseUnknown(given: object, known: Record<string, true>, prefix: string): void {
  const unknown = Object.keys(given).filter((name) => known[name] !== true);
  if (unknown.length === 0) return;
  const names = unknown.map((name) => `${prefix}${name}`).join(', ');
  throw invalid(`unknown option${unknown.length === 1 ? '' : 's'} ${names}; known: ${Object.keys(known).map((name) => `${prefix}${name}`).join(', ')}`);
}

function positiveInt(name: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) throw invalid(`${name} must be an integer of at least ${min}, got ${String(value)}`);
  return value;
}

/**
 * Longest delay a Node timer holds: a longer one fires after 1 ms (with only a warning), so a
 * connect timeout or a retry wait meant as "practically never" would end at once.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A duration in ms, at least `min`, that timers can hold. */
function durationMs(name: string, value: number | undefined, fallback: number, min = 1): number {
  const ms = positiveInt(name, value, fallback, min);
  if (ms > MAX_TIMER_MS) throw invalid(`${name} must be at most ${MAX_TIMER_MS} (about 24.8 days), what a timer can hold, got ${ms}`);
  return ms;
}

function parseBaseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(`baseUrl "${raw}" is not a URL; expected e.g. ${DEFAULT_BASE_URL}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(`baseUrl "${raw}" must use http: or https:`);
  if (url.username !== '' || url.password !== '') throw invalid('baseUrl must not contain credentials; pass the bearer token as `token`');
  if (url.search !== '' || url.hash !== '') throw invalid(`baseUrl "${raw}" must not have a query or fragment`);
  return url;
}

/** Validates what the user passed and fills in the defaults. Throws SHARDSYNC_CLIENT_INVALID_OPTIONS naming the option. */
export function compileClientOptions(options: ShardsyncClientOptions): CompiledClientOptions {
  const token = options.token as string | undefined;
  if (typeof token !== 'string' || token === '') {
    throw invalid('token is required: pass one of the bearer tokens configured in the producer\'s SHARDSYNC_PRODUCER_TOKENS');
  }
  if (!/^[\x21-\x7e]+$/.test(token)) throw invalid('token must be printable ASCII without spaces (it travels in the Authorization header)');
  refuseUnknown(options, CLIENT_OPTION_NAMES, '');
  const retry = options.retry ?? {};
  refuseUnknown(retry, RETRY_OPTION_NAMES, 'retry.');
  const maxDelayMs = durationMs('retry.maxDelayMs', retry.maxDelayMs, DEFAULT_RETRY.maxDelayMs, 0);
  const compiledRetry = {
    maxAttempts: positiveInt('retry.maxAttempts', retry.maxAttempts, DEFAULT_RETRY.maxAttempts),
    // A maximum below the default first delay lowers that default with it.
    initialDelayMs: durationMs('retry.initialDelayMs', retry.initialDelayMs, Math.min(DEFAULT_RETRY.initialDelayMs, maxDelayMs), 0),
    maxDelayMs,
  };
  if (compiledRetry.initialDelayMs > compiledRetry.maxDelayMs) {
    throw invalid(`retry.initialDelayMs (${compiledRetry.initialDelayMs}) must not exceed retry.maxDelayMs (${compiledRetry.maxDelayMs})`);
  }
  return {
    baseUrl: parseBaseUrl(options.baseUrl ?? DEFAULT_BASE_URL),
    token,
    connectTimeoutMs: durationMs('connectTimeoutMs', options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS),
    idleTimeoutMs: durationMs('idleTimeoutMs', options.idleTimeoutMs, DEFAULT_IDLE_TIMEOUT_MS),
    retry: compiledRetry,
    maxSockets: positiveInt('maxSockets', options.maxSockets, DEFAULT_MAX_SOCKETS),
    keepAliveMs: durationMs('keepAliveMs', options.keepAliveMs, DEFAULT_KEEP_ALIVE_MS),
    onRetry: options.onRetry,
    batch: compileBatch(options.batch),
  };
}

function batchFormat(format: unknown): BatchFormat {
  if (format === undefined) return DEFAULT_BATCH.format;
  if (format === 'binary' || format === 'json') return format;
  throw invalid(`batch.format must be "binary" or "json", got ${JSON.stringify(format)}`);
}

function compileBatch(batch: boolean | BatchOptions | undefined): Required<BatchOptions> | undefined {
  if (batch === undefined || batch === false) return undefined;
  const given = batch === true ? {} : batch;
  if (typeof given !== 'object' || given === null) throw invalid('batch must be true, false or an object of batch options');
  refuseUnknown(given, BATCH_OPTION_NAMES, 'batch.');
  const compiled = {
    maxItems: positiveInt('batch.maxItems', given.maxItems, DEFAULT_BATCH.maxItems),
    maxBytes: positiveInt('batch.maxBytes', given.maxBytes, DEFAULT_BATCH.maxBytes),
    maxItemBytes: positiveInt('batch.maxItemBytes', given.maxItemBytes, DEFAULT_BATCH.maxItemBytes, 0),
    maxRequests: positiveInt('batch.maxRequests', given.maxRequests, DEFAULT_BATCH.maxRequests),
    format: batchFormat(given.format),
  };
  if (compiled.maxItems > MAX_BATCH_ITEMS) throw invalid(`batch.maxItems must be at most ${MAX_BATCH_ITEMS}, what the producer accepts in one request`);
  if (compiled.maxItemBytes > compiled.maxBytes) throw invalid(`batch.maxItemBytes (${compiled.maxItemBytes}) must not exceed batch.maxBytes (${compiled.maxBytes})`);
  return compiled;
}
