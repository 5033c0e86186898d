import { retry, type Logger, type RetryOptions } from '@shardsync/runtime';
import { ProducerError } from '../errors.js';
import type { IdempotencyStore, IdempotentResult } from '../idempotency/store.js';
import type { Accepted } from './types.js';

const MAX_KEY_LENGTH = 255;

/** How recording an answer is retried (full-jitter backoff). */
export type CompletionRetry = Pick<RetryOptions, 'maxAttempts' | 'initialDelayMs' | 'maxDelayMs'>;

/**
 * Rides out a Redis reconnect (ioredis retries within 2 s); all attempts together take at most
 * about 5 s, well inside the shutdown grace period, which waits for them.
 */
const DEFAULT_COMPLETION_RETRY: CompletionRetry = { maxAttempts: 6, initialDelayMs: 200, maxDelayMs: 2000 };

/**
 * How often a running request extends its claim: well inside a claim's lifetime (5 min in Redis),
 * so an upload longer than that keeps it, and a concurrent retry keeps getting 409 instead of
 * claiming the key again and emitting a second event.
 */
export const CLAIM_REFRESH_MS = 60_000;

/**
 * Makes a request with an `Idempotency-Key` run at most once per (token, key): a retry gets
 * the first answer (same event id and version) and emits nothing; a concurrent duplicate gets
 * 409 and should retry; reusing the key for a different request is refused (422).
 */
export class Idempotency {
  readonly #store: IdempotencyStore;
  readonly #ttlMs: number;
  readonly #logger: Logger;
  readonly #completionRetry: CompletionRetry;
  /** Answers still being recorded in the background. */
  readonly #completing = new Set<Promise<void>>();

  constructor(store: IdempotencyStore, ttlMs: number, logger: Logger, completionRetry: CompletionRetry = DEFAULT_COMPLETION_RETRY) {
    this.#store = store;
    this.#ttlMs = ttlMs;
    this.#logger = logger;
    this.#completionRetry = completionRetry;
  }

  /** Waits until the answers still being recorded are recorded or given up (the retries are bounded). */
  async close(): Promise<void> {
    await Promise.all([...this.#completing]);
  }

  async run(scope: string, key: string | undefined, fingerprint: string, work: () => Promise<Accepted>): Promise<Accepted> {
    if (key === undefined) return work();
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
      throw new ProducerError('SHARDSYNC_INVALID_REQUEST', `Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} characters`);
    }
    let outcome;
    try {
      outcome = await this.#store.claim(scope, key, this.#ttlMs);
    } catch (err) {
      throw new ProducerError('SHARDSYNC_UNAVAILABLE', `the idempotency store is unavailable: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (outcome.kind === 'in-progress') {
      throw new ProducerError('SHARDSYNC_IDEMPOTENCY_IN_PROGRESS', `a request with Idempotency-Key "${key}" is still in progress; retry later`);
    }
    if (outcome.kind === 'done') {
      if (outcome.result.fingerprint !== fingerprint) {
        throw new ProducerError('SHARDSYNC_IDEMPOTENCY_KEY_REUSED', `Idempotency-Key "${key}" was used for a different request`);
      }
      return outcome.result.body as unknown as Accepted;
    }
    let accepted: Accepted;
    const keepClaim = setInterval(() => {
      this.#store.extend(scope, key).catch((err: unknown) => this.#logger.warn({ err, scope, key }, 'could not extend an idempotency claim; it may expire before its request ends'));
    }, CLAIM_REFRESH_MS);
    keepClaim.unref();
    try {
      accepted = await work();
    } catch (err) {
      clearInterval(keepClaim);
      await this.#store.release(scope, key).catch(() => undefined);
      throw err;
    }
    clearInterval(keepClaim);
    // The event is durable now; failing to remember the answer must not turn it into an error,
    // and answering need not wait for it: this instance's later commands for the key travel on
    // the same Redis connection, after this one, so its own retries see the answer. (A retry that
    // reaches another instance first gets 409 and retries.)
    this.#complete(scope, key, { fingerprint, status: 202, body: { ...accepted } });
    return accepted;
  }

  /**
   * Records the answer in the background, retrying: a lost write would leave the claim pending,
   * so retries would get 409 until it expires and then emit a second event.
   */
  #complete(scope: string, key: string, result: IdempotentResult): void {
    const done = retry(() => this.#store.complete(scope, key, result, this.#ttlMs), { ...this.#completionRetry, isRetriable: () => true })
      .catch((err: unknown) => {
        this.#logger.error({ err, scope, key }, 'could not record the answer of an Idempotency-Key request; its retries get 409 until the claim expires, then emit a second event');
      })
      .finally(() => this.#completing.delete(done));
    this.#completing.add(done);
  }
}
