import { sleep } from '@shardsync/runtime';
import { InvalidReconcileOptionsError } from './errors.js';

/** Options of {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Sustained rate, in tokens (bytes) per second. Required, positive. */
  readonly ratePerSecond: number;
  /** Tokens that may be spent at once after a quiet period. Default: one second's worth. */
  readonly burst?: number | undefined;
  /** Clock in milliseconds. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /** How to wait. Default: a timer (`sleep` from @shardsync/runtime). */
  readonly sleep?: ((ms: number, signal?: AbortSignal) => Promise<void>) | undefined;
}

/**
 * A token bucket that paces deep reads to a bytes-per-second budget, so a deep pass cannot
 * saturate a store's disks or the network that the consumers need.
 *
 * `take(n)` debits first and then waits out any debt, which lets one chunk larger than the burst
 * through (a read cannot be split after the fact) while keeping the long-run rate exact, and
 * gives concurrent readers fair, first-come order: each waits for the debt that existed when it
 * arrived plus its own.
 */
export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  #tokens: number;
  #updatedMs: number;

  constructor(options: TokenBucketOptions) {
    const { ratePerSecond } = options;
    if (!Number.isFinite(ratePerSecond) || ratePerSecond <= 0) {
      throw new InvalidReconcileOptionsError(`a deep-mode budget must be a positive number of bytes per second, got ${ratePerSecond}`);
    }
    const burst = options.burst ?? ratePerSecond;
    if (!Number.isFinite(burst) || burst <= 0) throw new InvalidReconcileOptionsError(`burst must be a positive number of bytes, got ${burst}`);
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? sleep;
    this.#tokens = burst;
    this.#updatedMs = this.#now();
  }

  /** Spends `n` tokens, waiting as long as the budget requires. Rejects when `signal` aborts. */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    this.#refill();
    this.#tokens -= n;
    if (this.#tokens >= 0) return;
    const waitMs = Math.ceil((-this.#tokens / this.ratePerSecond) * 1000);
    await this.#sleep(waitMs, signal);
  }

  /** Tokens available now (negative while readers are waiting out a debt). */
  get available(): number {
    this.#refill();
    return this.#tokens;
  }

  #refill(): void {
    const now = this.#now();
    const elapsed = Math.max(0, now - this.#updatedMs);
    this.#updatedMs = now;
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsed / 1000) * this.ratePerSecond);
  }
}
