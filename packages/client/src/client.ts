import { setMaxListeners } from 'node:events';
import { inspect } from 'node:util';
import { acceptedFrom, acceptedFromValue, errorFrom, errorFromValue } from './answer.js';
import { Batcher, type BatchWireItem } from './batcher.js';
import { bodySource, isReadable, type BodySource } from './body.js';
import { classifyNetworkError, forCall, invalidArgument, ShardsyncClientError, withCallContext } from './errors.js';
import { compileClientOptions, type CompiledClientOptions, type ShardsyncClientOptions } from './options.js';
import { idempotencyKeyFor, objectPath, putFields, putHeaders } from './request.js';
import { nextDelayMs, retryAfterMs, sleep } from './retry.js';
import { Transport, type AttemptRequest } from './transport.js';
import type { Accepted, Announcement, CallOptions, PutBody, PutOptions } from './types.js';

interface CallSpec {
  /** For messages: `put models/a.bin`. */
  what: string;
  method: AttemptRequest['method'];
  path: string;
  headers: Record<string, string>;
  body?: BodySource | undefined;
}

/** Why one attempt did not get a 202; `final` when no retry may follow. */
interface Failure {
  failed: ShardsyncClientError;
  serverAskedMs?: number | undefined;
  final?: boolean;
  /** Added to the final error's message. */
  note?: string | undefined;
}

type Attempt = (idempotencyKey: string) => Promise<Accepted | Failure>;

/**
 * Typed client of the shardsync producer's HTTP API. Every call carries an Idempotency-Key
 * (the caller's, or one generated per call) and is retried on retriable failures with full-jitter
 * exponential backoff: the key makes a repeat of an update that did reach the producer
 * return the first answer instead of emitting a second event.
 *
 * ```ts
 * const client = new ShardsyncClient({ baseUrl: 'http://producer:18080', token: process.env.SHARDSYNC_TOKEN! });
 * const accepted = await client.put('models', 'llama/shard-0001.bin', () => createReadStream(path), { contentLength: size });
 * ```
 */
export class ShardsyncClient {
  readonly options: CompiledClientOptions;
  readonly #transport: Transport;
  readonly #closed = new AbortController();
  readonly #inFlight = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;

  readonly #batcher: Batcher | undefined;

  constructor(options: ShardsyncClientOptions) {
    this.options = compileClientOptions(options);
    // Every call waiting to retry listens on this signal: many concurrent calls against a producer
    // that is down are expected, not the listener leak Node would warn about past 10.
    setMaxListeners(0, this.#closed.signal);
    this.#transport = new Transport(this.options);
    this.#batcher = this.options.batch === undefined ? undefined : new Batcher(this.#transport, this.options.batch);
  }

  /** How `console.log(client)` and loggers print it: the options without the bearer token. */
  [inspect.custom](): string {
    return `ShardsyncClient ${inspect(this.#shownOptions())}`;
  }

  /** How JSON loggers (pino, `JSON.stringify`) print it, which never call the inspect hook: without the token too. */
  toJSON(): { options: Record<string, unknown> } {
    return { options: this.#shownOptions() };
  }

  #shownOptions(): Record<string, unknown> {
    const { token: _token, ...shown } = this.options;
    return { ...shown, token: '(redacted)' };
  }

  /**
   * `PUT /v1/objects/{dataset}/{key}`: uploads the object, streamed. Resolves once the producer
   * has the update durable in Kafka. A plain `Readable` body is sent at most once after its first
   * byte was read; pass a factory `() => Readable` to have streamed uploads retried.
   *
   * Bytes are sent as they are when a request goes out, and again by retries, not copied at the
   * call: leave a buffer unchanged until its call has settled.
   */
  put(dataset: string, key: string, body: PutBody, options: PutOptions = {}): Promise<Accepted> {
    const call = this.#track(() => {
      const what = `put ${dataset}/${key}`;
      const path = objectPath(dataset, key); // also refuses an empty or unencodable dataset or key, batched or not
      const fields = putFields(options);
      const bytes = wholeBody(body);
      const batch = this.options.batch;
      if (this.#batcher !== undefined && batch !== undefined && bytes !== undefined && bytes.length <= batch.maxItemBytes) {
        const { sha256, contentType, metadata } = fields;
        const item = { operation: 'put' as const, dataset, key, body: bytes, sha256, contentType, ...(Object.keys(metadata).length > 0 ? { metadata } : {}) };
        return this.#batched(this.#batcher, what, options, (idempotencyKey) => ({ idempotencyKey, ...item }));
      }
      return this.#call({ what, method: 'PUT', path, headers: putHeaders(fields), body: bodySource(body, options.contentLength) }, options);
    });
    if (!isReadable(body)) return call;
    // The client owns a plain stream once passed: a call that fails before sending it whole
    // (refused arguments, a producer never reached, an abort) releases it, or a file stream's
    // descriptor would stay open. A partly sent one is destroyed by its attempt already.
    return call.catch((err: unknown) => {
      if (!body.readableEnded) body.destroy();
      throw err;
    });
  }

  /** `DELETE /v1/objects/{dataset}/{key}`: replicates a delete (a tombstone) to every datacenter of the dataset. */
  delete(dataset: string, key: string, options: CallOptions = {}): Promise<Accepted> {
    return this.#track(() => {
      const what = `delete ${dataset}/${key}`;
      const path = objectPath(dataset, key); // also refuses an empty or unencodable dataset or key, batched or not
      if (this.#batcher !== undefined) return this.#batched(this.#batcher, what, options, (idempotencyKey) => ({ operation: 'delete', dataset, key, idempotencyKey }));
      return this.#call({ what, method: 'DELETE', path, headers: {} }, options);
    });
  }

  /**
   * `POST /v1/events` (change-data-capture): announces an object the service wrote to its store
   * itself, or a delete. The producer checks the source object exists with the announced size.
   */
  announce(announcement: Announcement, options: CallOptions = {}): Promise<Accepted> {
    return this.#track(() => {
      if (typeof announcement !== 'object' || announcement === null || (announcement.operation !== 'put' && announcement.operation !== 'delete')) {
        throw invalidArgument('an announcement is an object with operation "put" or "delete"');
      }
      const json = Buffer.from(JSON.stringify(announcement), 'utf8');
      return this.#call(
        {
          what: `announce ${announcement.operation} ${announcement.dataset}/${announcement.key}`,
          method: 'POST',
          path: '/v1/events',
          headers: { 'content-type': 'application/json' },
          body: bodySource(json, undefined),
        },
        options,
      );
    });
  }

  /**
   * Refuses new calls, cancels pending retry waits (those calls fail with SHARDSYNC_CLIENT_CLOSED),
   * lets attempts already on the wire finish, then closes the kept-alive connections. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed.abort(new ShardsyncClientError('SHARDSYNC_CLIENT_CLOSED', 'the client was closed', { retriable: false }));
      await Promise.allSettled([...this.#inFlight]);
      this.#transport.close();
    })();
    return this.#closing;
  }

  #track(run: () => Promise<Accepted>): Promise<Accepted> {
    if (this.#closed.signal.aborted) {
      return Promise.reject(new ShardsyncClientError('SHARDSYNC_CLIENT_CLOSED', 'the client was closed; create a new one', { retriable: false }));
    }
    // Argument errors surface as rejections, like every other failure of a call.
    const promise = Promise.resolve().then(run);
    this.#inFlight.add(promise);
    void promise.finally(() => this.#inFlight.delete(promise)).catch(() => undefined);
    return promise;
  }

  /** One request per attempt. */
  #call(spec: CallSpec, options: CallOptions): Promise<Accepted> {
    const target = this.#transport.describe(spec.method, spec.path);
    const attempt: Attempt = async (idempotencyKey) => {
      try {
        const answer = await this.#transport.send({
          method: spec.method,
          path: spec.path,
          headers: { ...spec.headers, 'idempotency-key': idempotencyKey },
          body: spec.body,
          signal: options.signal,
        });
        if (answer.status === 202) return acceptedFrom(answer, spec.what);
        const failed = errorFrom(answer, spec.what);
        const resendable = spec.body === undefined || spec.body.canResend();
        // Only retriable failures read the body source again.
        if (failed.retriable && !resendable) return { failed, final: true, note: spec.body?.notResendableReason };
        return { failed, serverAskedMs: retryAfterMs(answer.headers['retry-after']) };
      } catch (err) {
        const failed = err instanceof ShardsyncClientError ? err : classifyNetworkError(err, target);
        if (failed.code === 'SHARDSYNC_CLIENT_BAD_RESPONSE') return { failed, final: true };
        if (failed.retriable && spec.body !== undefined && !spec.body.canResend()) return { failed, final: true, note: spec.body.notResendableReason };
        return { failed };
      }
    };
    return this.#retrying(options, attempt);
  }

  /** Through the batcher: the item travels in a `POST /v1/batch` with other calls' items, and is retried alone. */
  #batched(batcher: Batcher, what: string, options: CallOptions, item: (idempotencyKey: string) => BatchWireItem): Promise<Accepted> {
    return this.#retrying(options, async (idempotencyKey) => {
      const outcome = await batcher.submit(item(idempotencyKey), options.signal);
      if (outcome.kind === 'failed') {
        // Retried by its own flag: a proxy's 502/503 page is, and so is an unreadable or cut-off 200
        // (items may have been emitted, but the resend carries the same idempotency key); an abort is not.
        return { failed: forCall(outcome.error, what), serverAskedMs: outcome.serverAskedMs };
      }
      const raw = () => JSON.stringify(outcome.value);
      if (outcome.status === 202) {
        try {
          return acceptedFromValue(outcome.value, outcome.status, what, raw);
        } catch (err) {
          return { failed: err as ShardsyncClientError, final: true };
        }
      }
      return { failed: errorFromValue(outcome.value, outcome.status, what, raw) };
    });
  }

  /** Runs attempts until one is accepted or a failure is final, not retriable, or out of attempts. */
  async #retrying(options: CallOptions, attempt: Attempt): Promise<Accepted> {
    const idempotencyKey = idempotencyKeyFor(options);
    const policy = this.options.retry;
    // Attempts on the wire follow only the caller's signal; waits between them also end on close().
    // Both are listened to only while waiting (see sleep: no AbortSignal.any, which leaks on Node 20).
    const waitSignals = options.signal === undefined ? [this.#closed.signal] : [options.signal, this.#closed.signal];
    for (let n = 1; ; n += 1) {
      const result = await attempt(idempotencyKey);
      if (!isFailure(result)) return result;
      const { failed, serverAskedMs } = result;
      if (result.final === true || !failed.retriable || n >= policy.maxAttempts || waitSignals.some((s) => s.aborted)) {
        throw withCallContext(failed, { idempotencyKey, attempts: n, note: result.note });
      }
      const delayMs = nextDelayMs(n, policy, serverAskedMs);
      try {
        // An async hook is a valid `(event) => void`: its rejection is ignored like a throw, not
        // left unhandled (which ends a Node process by default).
        const returned: unknown = this.options.onRetry?.({ error: failed, attempt: n, delayMs, idempotencyKey });
        if (returned instanceof Promise) returned.catch(() => undefined);
      } catch {
        // A hook that throws (a broken logger) must not replace the call's own outcome, nor end
        // retries of an update that may already be emitted: it is ignored.
      }
      try {
        await sleep(delayMs, waitSignals);
      } catch (err) {
        const stopped = err instanceof ShardsyncClientError ? err : failed;
        throw withCallContext(stopped, { idempotencyKey, attempts: n, note: `gave up waiting to retry after: ${failed.message}` });
      }
    }
  }
}

function isFailure(result: Accepted | Failure): result is Failure {
  return (result as Partial<Failure>).failed !== undefined;
}

/** Bytes and strings: bodies that can travel in a batch. */
function wholeBody(body: PutBody): Buffer | undefined {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return undefined;
}
