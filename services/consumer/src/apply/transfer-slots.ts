import { abortReason } from '@shardsync/runtime';

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

  /**
   * Runs `work` once a slot is free, and frees it when `work` settles. A wait that `signal` ends
   * (the service closing) rejects at once with its reason, without taking a slot: otherwise a
   * shutdown would wait for every transfer ahead of it to notice the abort first.
   */
  async run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted === true) throw abortReason(signal);
    if (this.#running >= this.limit) await this.#waitForSlot(signal);
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

  /** Resolves once a finishing run hands this waiter its slot; rejects, leaving the queue, if `signal` aborts first. */
  #waitForSlot(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (aborted: AbortSignal): void => {
        const i = this.#waiting.indexOf(granted);
        // Already handed a slot: the work runs with its aborted signal and frees the slot when it fails.
        if (i < 0) return;
        this.#waiting.splice(i, 1);
        reject(abortReason(aborted));
      };
      const listener = signal === undefined ? undefined : () => onAbort(signal);
      const granted = (): void => {
        if (listener !== undefined) signal?.removeEventListener('abort', listener);
        resolve();
      };
      if (listener !== undefined) signal?.addEventListener('abort', listener, { once: true });
      this.#waiting.push(granted);
    });
  }
}
