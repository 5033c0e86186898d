/**
 * At most `limit` payload transfers at once in the whole process. Each transfer holds up to a
 * single-put body or a few multipart parts in memory (tens of MiB), and the batch handler runs
 * `SHARDSYNC_CONSUMER_CONCURRENCY` keys in each of `SHARDSYNC_CONSUMER_PARTITIONS_CONCURRENTLY`
 * partitions (192 by default): without a process-wide bound a backlog of large objects could
 * hold gigabytes. Waiters are served in arrival order.
 */
export class TransferSlots {
  readonly limit: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`transfer slots must be a positive integer, got ${limit}`);
    this.limit = limit;
  }

  /** Transfers running now. */
  get running(): number {
    return this.#running;
  }

  /** Runs `work` once a slot is free, and frees it when `work` settles. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#running >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#running += 1;
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      // The slot passes straight to the next waiter; `running` stays the same.
      if (next !== undefined) next();
      else this.#running -= 1;
    }
  }
}
