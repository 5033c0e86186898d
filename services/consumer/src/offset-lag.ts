import type { PartitionLag } from '@shardsync/eventlog';
import type { Logger } from '@shardsync/runtime';
import type { Gauge } from 'prom-client';

export interface OffsetLagOptions {
  /** The group's lag per partition of the topic, e.g. `EventLogAdmin.groupLag` (two admin requests). */
  lag: () => Promise<ReadonlyArray<Pick<PartitionLag, 'partition' | 'lag'>>>;
  /** Partitions this instance owns now; only they are reported, so no partition is reported twice by the instances of a group. */
  assigned: () => readonly number[];
  gauge: Gauge<'partition'>;
  logger: Logger;
  /** Refresh interval in ms. Default 5000. */
  intervalMs?: number;
}

/** Events waiting in the partitions this instance owns (another member's backlog is not its own). */
export function ownedLag(lags: ReadonlyArray<Pick<PartitionLag, 'partition' | 'lag'>>, assigned: readonly number[]): number {
  const owned = new Set(assigned);
  return lags.reduce((sum, p) => (owned.has(p.partition) ? sum + p.lag : sum), 0);
}

/**
 * Keeps `shardsync_consumer_offset_lag_events{partition}` at what Kafka says: the partition's
 * latest offset minus the offset the group committed, refreshed on an interval. Unlike a value
 * taken when a batch is fetched, it keeps moving when no batch arrives (a partition stuck
 * retrying, a consumer that stopped fetching) and counts only what is committed. When Kafka does
 * not answer, the last values of the partitions still owned stay and one warning says so.
 */
export class OffsetLagReporter {
  readonly #o: OffsetLagOptions;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #failing = false;
  #stopped = false;
  /** Partitions the gauge holds a value of. */
  readonly #reported = new Set<number>();

  constructor(options: OffsetLagOptions) {
    this.#o = options;
  }

  /** Refreshes now and then every `intervalMs` until {@link stop}. */
  start(): void {
    if (this.#stopped || this.#timer !== undefined) return;
    void this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.#o.intervalMs ?? 5000);
    this.#timer.unref();
  }

  /** One refresh; a refresh already running is joined rather than doubled. Never throws. */
  refresh(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#inFlight ??= this.#refresh().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #refresh(): Promise<void> {
    let lags: ReadonlyArray<Pick<PartitionLag, 'partition' | 'lag'>>;
    try {
      lags = await this.#o.lag();
    } catch (err) {
      if (!this.#failing) this.#o.logger.warn({ err }, 'offset lag not refreshed; shardsync_consumer_offset_lag_events keeps its last values');
      this.#failing = true;
      this.#forgetUnowned();
      return;
    }
    if (this.#stopped) return;
    if (this.#failing) this.#o.logger.info('offset lag refreshed again');
    this.#failing = false;
    const owned = new Set(this.#o.assigned());
    this.#o.gauge.reset();
    this.#reported.clear();
    for (const { partition, lag } of lags) {
      if (!owned.has(partition)) continue;
      this.#o.gauge.set({ partition: String(partition) }, lag);
      this.#reported.add(partition);
    }
  }

  /**
   * Drops the last values of partitions this instance no longer owns (a rebalance while Kafka
   * does not answer): their new owner reports them, and a stale copy here would count them twice.
   */
  #forgetUnowned(): void {
    const owned = new Set(this.#o.assigned());
    for (const partition of this.#reported) {
      if (owned.has(partition)) continue;
      this.#o.gauge.remove({ partition: String(partition) });
      this.#reported.delete(partition);
    }
  }

  /** Stops refreshing and waits for a refresh in flight, so the admin client can be closed next. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
  }
}
