import { acceptedFrom, errorFrom } from './answer.js';
import { bodySource, type BodySource } from './body.js';
import { classifyNetworkError, invalidArgument, ShardsyncClientError, withCallContext } from './errors.js';
import { compileClientOptions, type CompiledClientOptions, type ShardsyncClientOptions } from './options.js';
import { idempotencyKeyFor, objectPath, putHeaders } from './request.js';
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

  constructor(options: ShardsyncClientOptions) {
    this.options = compileClientOptions(options);
    this.#transport = new Transport(this.options);
  }

  /**
   * `PUT /v1/objects/{dataset}/{key}`: uploads the object, streamed. Resolves once the producer
   * has the update durable in Kafka. A plain `Readable` body is sent at most once after its first
   * byte was read; pass a factory `() => Readable` to have streamed uploads retried.
   */
  put(dataset: string, key: string, body: PutBody, options: PutOptions = {}): Promise<Accepted> {
    return this.#track(() => {
      const headers = putHeaders(options);
      return this.#call({ what: `put ${dataset}/${key}`, method: 'PUT', path: objectPath(dataset, key), headers, body: bodySource(body, options.contentLength) }, options);
    });
  }

  /** `DELETE /v1/objects/{dataset}/{key}`: replicates a delete (a tombstone) to every datacenter of the dataset. */
  delete(dataset: string, key: string, options: CallOptions = {}): Promise<Accepted> {
    return this.#track(() => this.#call({ what: `delete ${dataset}/${key}`, method: 'DELETE', path: objectPath(dataset, key), headers: {} }, options));
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

  async #call(spec: CallSpec, options: CallOptions): Promise<Accepted> {
    const idempotencyKey = idempotencyKeyFor(options);
    const policy = this.options.retry;
    // Attempts on the wire follow only the caller's signal; waits between them also end on close().
    const waitSignal = options.signal === undefined ? this.#closed.signal : AbortSignal.any([options.signal, this.#closed.signal]);
    const target = this.#transport.describe(spec.method, spec.path);
    for (let attempt = 1; ; attempt += 1) {
      let error: ShardsyncClientError;
      let serverAskedMs: number | undefined;
      try {
        const answer = await this.#transport.send({
          method: spec.method,
          path: spec.path,
          headers: { ...spec.headers, 'idempotency-key': idempotencyKey },
          body: spec.body,
          signal: options.signal,
        });
        if (answer.status === 202) return acceptedFrom(answer, spec.what);
        error = errorFrom(answer, spec.what);
        serverAskedMs = retryAfterMs(answer.headers['retry-after']);
      } catch (err) {
        error = err instanceof ShardsyncClientError ? err : classifyNetworkError(err, target);
        if (error.code === 'SHARDSYNC_CLIENT_BAD_RESPONSE') throw withCallContext(error, { idempotencyKey, attempts: attempt });
      }
      const resendable = spec.body === undefined || spec.body.canResend();
      if (!error.retriable || attempt >= policy.maxAttempts || waitSignal.aborted || !resendable) {
        const note = error.retriable && !resendable ? spec.body?.notResendableReason : undefined;
        throw withCallContext(error, { idempotencyKey, attempts: attempt, note });
      }
      const delayMs = nextDelayMs(attempt, policy, serverAskedMs);
      this.options.onRetry?.({ error, attempt, delayMs, idempotencyKey });
      try {
        await sleep(delayMs, waitSignal);
      } catch (err) {
        const stopped = err instanceof ShardsyncClientError ? err : error;
        throw withCallContext(stopped, { idempotencyKey, attempts: attempt, note: `gave up waiting to retry after: ${error.message}` });
      }
    }
  }
}
