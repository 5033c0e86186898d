/**
 * The consumer's loads of its tombstone index: one on every partition assignment (the previous
 * owner of a partition may have written tombstones this instance has not seen), awaited by every
 * batch before it applies anything.
 *
 * A load retries until it works (a store that is down makes the partitions wait). A new
 * assignment starts a new load and cancels the one before it: a group that rebalances again and
 * again while the store is down must not pile up one retry loop (and, once the store answers,
 * one full listing) per rebalance. A batch waiting on a cancelled load waits on its successor
 * instead of failing.
 */
export class IndexLoads {
  readonly #load: (signal: AbortSignal) => Promise<void>;
  readonly #closing: AbortSignal | undefined;
  #current: Loading | undefined;

  /**
   * @param load loads the index once, retrying as long as it should, until `signal` aborts.
   * @param closing the service's shutdown: cancels the running load (and any later one at once).
   */
  constructor(load: (signal: AbortSignal) => Promise<void>, closing?: AbortSignal) {
    this.#load = load;
    this.#closing = closing;
    // One listener for the service's life rather than AbortSignal.any per load, whose links Node
    // 20 keeps on the source signal for good.
    closing?.addEventListener('abort', () => this.#current?.cancel.abort(closing.reason), { once: true });
  }

  /** Starts a load (on an assignment), cancelling the one still running, if any. */
  restart(): void {
    this.#start();
  }

  /** Resolves once the latest load has finished; starts one if none ran or the last one failed. */
  async loaded(): Promise<void> {
    for (;;) {
      const loading = this.#current ?? this.#start();
      try {
        await loading.done;
        // A superseded load can still resolve (retry() lets its attempt in flight finish), but the
        // index keeps only the newest load's listing: this one loaded nothing the batch may use.
        if (this.#current !== loading) continue;
        return;
      } catch (err) {
        // Cancelled by a newer assignment: wait for that one's load instead.
        if (this.#current !== loading) continue;
        // Failed for good (not retriable, or the service is closing): the next batch tries again.
        this.#current = undefined;
        throw err;
      }
    }
  }

  #start(): Loading {
    this.#current?.cancel.abort(new Error('superseded by the load of a newer assignment'));
    const cancel = new AbortController();
    if (this.#closing?.aborted === true) cancel.abort(this.#closing.reason);
    const done = this.#load(cancel.signal);
    // Handled: a batch awaits it (and starts another if it failed).
    done.catch(() => undefined);
    this.#current = { done, cancel };
    return this.#current;
  }
}

interface Loading {
  readonly done: Promise<void>;
  readonly cancel: AbortController;
}
