/**
 * Collects the calls made in one event-loop turn (the items of a batch request, the requests
 * parsed from one read) and runs them as one request, e.g. one Redis script call for all their
 * keys instead of one command per key. Each caller gets its own result, or its own error.
 *
 * Not the event log's `Batcher`: that one keeps a single flush in flight (Kafka ordering) and
 * fails a whole batch together, while a claim whose record is unreadable must fail alone and
 * the claims of the next turn need not wait for this turn's reply.
 */
export class TurnBatch<T, R> {
  readonly #run: (items: readonly T[]) => Promise<ReadonlyArray<R | Error>>;
  #pending: Array<{ item: T; resolve: (result: R) => void; reject: (err: unknown) => void }> = [];

  /** @param run answers one result (or error) per item, in order; rejecting fails every item. */
  constructor(run: (items: readonly T[]) => Promise<ReadonlyArray<R | Error>>) {
    this.#run = run;
  }

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (this.#pending.length === 1) setImmediate(() => void this.#flush());
    });
  }

  async #flush(): Promise<void> {
    const calls = this.#pending.splice(0);
    let results: ReadonlyArray<R | Error>;
    try {
      results = await this.#run(calls.map((c) => c.item));
    } catch (err) {
      for (const c of calls) c.reject(err);
      return;
    }
    calls.forEach((c, i) => {
      const result = results[i];
      if (result === undefined) c.reject(new Error(`a batch of ${calls.length} answered ${results.length} results`));
      else if (result instanceof Error) c.reject(result);
      else c.resolve(result);
    });
  }
}
