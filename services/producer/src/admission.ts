import { ProducerError } from './errors.js';

/**
 * A budget of something the producer holds per request (bytes of batch bodies, staging uploads),
 * so that memory stays bounded however many clients send at once. Past it a request is refused
 * with 503, which clients retry with backoff (an Idempotency-Key makes that safe), rather than
 * queued: a queued upload would hold its connection idle and run into the body idle timeout.
 */
export class Budget {
  readonly #limit: number;
  readonly #what: string;
  #used = 0;

  /** `what` names a unit of the budget in the refusal, e.g. "bytes of batch bodies". */
  constructor(limit: number, what: string) {
    this.#limit = limit;
    this.#what = what;
  }

  get used(): number {
    return this.#used;
  }

  /**
   * Takes `amount` and returns what gives it back (once, however often it is called), or throws
   * 503 when it does not fit. A request larger than the whole budget is admitted when nothing
   * else is held: it is refused elsewhere if it is too large at all.
   */
  take(amount: number): () => void {
    if (this.#used > 0 && this.#used + amount > this.#limit) {
      throw new ProducerError('SHARDSYNC_UNAVAILABLE', `this producer holds ${this.#used} of its ${this.#limit} ${this.#what} in flight; retry shortly`);
    }
    this.#used += amount;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.#used -= amount;
    };
  }
}
