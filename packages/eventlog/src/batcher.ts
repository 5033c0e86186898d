import { EventLogError } from './errors.js';

export interface BatcherOptions {
  /** Most items in one flush. Default 1000. */
  maxItems?: number;
  /** Most bytes (as measured by `sizeOf`) in one flush; a single larger item still goes alone. Default 4 MiB. */
  maxBytes?: number;
  /**
   * How long the first item of an idle batcher waits for company. Default 0: the first item
   * goes at the end of the current event-loop turn (with whatever else that turn submitted: the
   * items of one batch request, the requests parsed from one read), and items arriving while a
   * flush is in flight form the next batch, so batches grow with concurrency without adding
   * latency at low load.
   */
  lingerMs?: number;
}

interface Pending<T, R> {
  item: T;
  size: number;
  resolve: (value: R) => void;
  reject: (err: unknown) => void;
}

/**
 * Coalesces concurrent submissions into batches flushed one at a time ("natural batching").
 * One flush in flight keeps the order of submissions, which an idempotent Kafka producer
 * (max one in-flight request) needs anyway. kafkajs has no linger setting: this is ours.
 */
export class Batcher<T, R> {
  readonly #flush: (items: T[]) => Promise<R[]>;
  readonly #sizeOf: (item: T) => number;
  readonly #maxItems: number;
  readonly #maxBytes: number;
  readonly #lingerMs: number;
  #queue: Array<Pending<T, R>> = [];
  #inFlight: Promise<void> | undefined;
  #timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  #closed = false;

  constructor(flush: (items: T[]) => Promise<R[]>, sizeOf: (item: T) => number, options: BatcherOptions = {}) {
    this.#flush = flush;
    this.#sizeOf = sizeOf;
    this.#maxItems = options.maxItems ?? 1000;
    this.#maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
    this.#lingerMs = options.lingerMs ?? 0;
  }

  /** Number of items waiting for a flush. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Adds an item; resolves with its own result once its batch was flushed. */
  submit(item: T): Promise<R> {
    if (this.#closed) {
      return Promise.reject(new EventLogError('SHARDSYNC_EVENTLOG_CLOSED', 'the producer is closing and accepts no more events', { retriable: true, unsent: true }));
    }
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, size: this.#sizeOf(item), resolve, reject });
      this.#schedule();
    });
  }

  /** Refuses new items and waits until everything already submitted was flushed. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) {
      this.#cancelTimer();
      this.#startFlush();
    }
    while (this.#inFlight !== undefined) await this.#inFlight;
  }

  #schedule(): void {
    if (this.#inFlight !== undefined || this.#timer !== undefined) return;
    const fire = () => {
      this.#timer = undefined;
      this.#startFlush();
    };
    // Flushing the first item synchronously would send it alone and make the rest of its turn's
    // items wait a whole round trip for the next flush (measured: 64-item batch requests took
    // about two Kafka round trips).
    this.#timer = this.#lingerMs <= 0 ? setImmediate(fire) : setTimeout(fire, this.#lingerMs);
  }

  #cancelTimer(): void {
    const timer = this.#timer;
    this.#timer = undefined;
    if (timer === undefined) return;
    if (this.#lingerMs <= 0) clearImmediate(timer as NodeJS.Immediate);
    else clearTimeout(timer as NodeJS.Timeout);
  }

  #takeBatch(): Array<Pending<T, R>> {
    let bytes = 0;
    let count = 0;
    for (const p of this.#queue) {
      if (count >= this.#maxItems || (count > 0 && bytes + p.size > this.#maxBytes)) break;
      bytes += p.size;
      count += 1;
    }
    return this.#queue.splice(0, count);
  }

  #startFlush(): void {
    const batch = this.#takeBatch();
    if (batch.length === 0) return;
    this.#inFlight = this.#run(batch).finally(() => {
      this.#inFlight = undefined;
      if (this.#queue.length > 0) this.#startFlush();
    });
  }

  async #run(batch: Array<Pending<T, R>>): Promise<void> {
    try {
      const results = await this.#flush(batch.map((p) => p.item));
      if (results.length !== batch.length) throw new Error(`flush returned ${results.length} results for ${batch.length} items`);
      batch.forEach((p, i) => p.resolve(results[i] as R));
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }
}
