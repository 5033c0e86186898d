import { ProducerError } from '../errors.js';
import type { IdempotencyStore } from '../idempotency/store.js';
import type { Accepted } from './types.js';

const MAX_KEY_LENGTH = 255;

/**
 * Makes a request with an `Idempotency-Key` run at most once per (token, key): a retry gets
 * the first answer (same event id and version) and emits nothing; a concurrent duplicate gets
 * 409 and should retry; reusing the key for a different request is refused (422).
 */
export class Idempotency {
  readonly #store: IdempotencyStore;
  readonly #ttlMs: number;

  constructor(store: IdempotencyStore, ttlMs: number) {
    this.#store = store;
    this.#ttlMs = ttlMs;
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
    try {
      accepted = await work();
    } catch (err) {
      await this.#store.release(scope, key).catch(() => undefined);
      throw err;
    }
    // The event is durable now; failing to remember the answer must not turn it into an error,
    // and answering need not wait for it: this instance's later commands for the key travel on
    // the same Redis connection, after this one, so its own retries see the answer. (A retry that
    // reaches another instance first gets 409 and retries.)
    void this.#store.complete(scope, key, { fingerprint, status: 202, body: { ...accepted } }, this.#ttlMs).catch(() => undefined);
    return accepted;
  }
}
