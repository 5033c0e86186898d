import type { Logger } from '@shardsync/runtime';
import type { SweepResult, TombstoneIndex } from './tombstone-index.js';

export interface TombstoneSweeperOptions {
  readonly index: Pick<TombstoneIndex, 'sweep'>;
  /** Time from the end of one sweep to the start of the next. */
  readonly intervalMs: number;
  readonly logger: Logger;
  /** Called with what each completed sweep did (metrics). */
  readonly onSwept?: ((result: SweepResult) => void) | undefined;
}

/**
 * Runs {@link TombstoneIndex.sweep} every `intervalMs`, so tombstones expire while the consumer
 * group stays stable (a reload, which also expires them, only happens on a rebalance). The next
 * sweep is scheduled only once the previous one has ended, so sweeps never overlap; a failed one
 * is logged and the next interval tries again.
 */
export class TombstoneSweeper {
  readonly #o: TombstoneSweeperOptions;
  /** Cuts the sweep in flight short when the service closes. */
  readonly #closing = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #started = false;
  #stopping: Promise<void> | undefined;

  constructor(options: TombstoneSweeperOptions) {
    this.#o = options;
  }

  /** Schedules the first sweep one interval from now (the reload at assignment has just expired what it found). */
  start(): void {
    if (this.#started || this.#stopping !== undefined) return;
    this.#started = true;
    this.#schedule();
  }

  /** Stops scheduling, aborts the sweep in flight and resolves once it has ended. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#closing.abort(new Error('tombstone sweeper stopping'));
      await this.#running;
    })();
    return this.#stopping;
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#sweepOnce().finally(() => {
        this.#running = undefined;
        if (this.#stopping === undefined) this.#schedule();
      });
    }, this.#o.intervalMs);
    // A pending sweep alone must not keep the process alive.
    this.#timer.unref();
  }

  async #sweepOnce(): Promise<void> {
    const { index, logger } = this.#o;
    try {
      const result = await index.sweep(Date.now(), this.#closing.signal);
      if (result === undefined) {
        logger.debug('tombstone sweep skipped: the index is being reloaded, which expires tombstones itself');
        return;
      }
      this.#o.onSwept?.(result);
      const { error, ...counts } = result;
      if (error !== undefined) logger.warn({ err: error, ...counts }, 'tombstone sweep: some expired tombstones could not be deleted; the next sweep tries again');
      else if (counts.expired > 0 || counts.rewritten > 0) logger.info(counts, 'tombstone sweep: expired tombstones deleted');
    } catch (err) {
      if (this.#closing.signal.aborted) return;
      logger.warn({ err, intervalMs: this.#o.intervalMs }, 'tombstone sweep failed; the next interval tries again');
    }
  }
}
