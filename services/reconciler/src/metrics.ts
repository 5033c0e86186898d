import type { KeyOutcome, PassReport } from '@shardsync/reconcile';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The last recorded pass of each dataset, from the pass history every instance shares. */
export type LastPassReader = () => Promise<readonly PassReport[]>;

/** How long a scrape waits for the pass history before showing this instance's own values (Redis down). */
const LAST_PASS_READ_TIMEOUT_MS = 2000;

/** Prometheus metrics of the reconciler (`shardsync_reconciler_*`). */
export class ReconcilerMetrics {
  readonly registry = new Registry();
  readonly #lastPasses: LastPassReader | undefined;
  #refreshing: Promise<void> | undefined;
  readonly passes = new Counter({
    name: 'shardsync_reconciler_passes_total',
    help: 'Passes: converged (the datacenters agree), diverged (divergence remains), skipped (another pass of the dataset was running), deferred (a deep pass that found another pass running and waits for it; counted again when it finishes)',
    labelNames: ['dataset', 'mode', 'result'] as const,
    registers: [this.registry],
  });
  readonly passSeconds = new Histogram({
    name: 'shardsync_reconciler_pass_duration_seconds',
    help: 'Duration of a pass from the start of listing to its report',
    labelNames: ['dataset', 'mode'] as const,
    buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14_400],
    registers: [this.registry],
  });
  readonly copies = new Counter({
    name: 'shardsync_reconciler_divergent_copies_total',
    help: 'Divergent copies found, by datacenter and status (missing, stale, corrupt, shouldBeDeleted, unmanaged)',
    labelNames: ['dataset', 'datacenter', 'status'] as const,
    registers: [this.registry],
  });
  readonly repairs = new Counter({
    name: 'shardsync_reconciler_repairs_total',
    help: 'Outcomes of repairs, by datacenter and result (repaired, failed, planned, skipped, superseded)',
    labelNames: ['dataset', 'datacenter', 'result'] as const,
    registers: [this.registry],
  });
  readonly bytesMoved = new Counter({ name: 'shardsync_reconciler_bytes_moved_total', help: 'Object bytes written by repairs', labelNames: ['dataset'] as const, registers: [this.registry] });
  readonly requests = new Counter({
    name: 'shardsync_reconciler_requests_total',
    help: 'Store requests beyond listing (drill-down HEADs and repairs), by operation',
    labelNames: ['dataset', 'operation'] as const,
    registers: [this.registry],
  });
  readonly stagingDeleted = new Counter({
    name: 'shardsync_reconciler_staging_deleted_total',
    help: 'Staged bodies deleted because they were past SHARDSYNC_STAGING_RETENTION_MS, by datacenter',
    labelNames: ['datacenter'] as const,
    registers: [this.registry],
  });
  readonly stagingDeletedBytes = new Counter({
    name: 'shardsync_reconciler_staging_deleted_bytes_total',
    help: 'Bytes of the staged bodies deleted, by datacenter',
    labelNames: ['datacenter'] as const,
    registers: [this.registry],
  });
  readonly stagingUploadsAborted = new Counter({
    name: 'shardsync_reconciler_staging_uploads_aborted_total',
    help: 'Incomplete multipart uploads under the staging prefix aborted because they were begun more than SHARDSYNC_STAGING_RETENTION_MS ago, by datacenter',
    labelNames: ['datacenter'] as const,
    registers: [this.registry],
  });
  readonly lastDivergentKeys = new Gauge({
    name: 'shardsync_reconciler_last_pass_divergent_keys',
    help: 'Divergent keys found by the last pass',
    labelNames: ['dataset'] as const,
    registers: [this.registry],
    collect: () => this.#refreshLastPasses(),
  });
  readonly lastRemaining = new Gauge({
    name: 'shardsync_reconciler_last_pass_remaining_copies',
    help: 'Divergent copies left after the last pass (0 = the datacenters agree)',
    labelNames: ['dataset'] as const,
    registers: [this.registry],
    collect: () => this.#refreshLastPasses(),
  });
  readonly lastPassTimestamp = new Gauge({
    name: 'shardsync_reconciler_last_pass_timestamp_seconds',
    help: 'When the last pass of the dataset finished (Unix time); alert when it is too old',
    labelNames: ['dataset'] as const,
    registers: [this.registry],
    collect: () => this.#refreshLastPasses(),
  });
  readonly schedulesRestored = new Counter({
    name: 'shardsync_reconciler_schedules_restored_total',
    help: 'Schedules found stopped (BullMQ added no next job for them after a worker error) and restored, by scheduler id',
    labelNames: ['scheduler'] as const,
    registers: [this.registry],
  });
  readonly jobs = new Counter({ name: 'shardsync_reconciler_jobs_total', help: 'Jobs run, by name and result', labelNames: ['name', 'result'] as const, registers: [this.registry] });

  /**
   * @param lastPasses where the last-pass gauges are read from at each scrape. Any instance may
   *   run a dataset's pass (or the CLI may), so the values an instance set when it last ran one
   *   can be long outdated: an alert on divergence left would keep firing on it after another
   *   instance repaired everything. Without it (or while it fails) they show this instance's passes.
   */
  constructor(lastPasses?: LastPassReader) {
    this.#lastPasses = lastPasses;
    collectDefaultMetrics({ register: this.registry, prefix: 'shardsync_reconciler_' });
  }

  /** Counts what a finished pass found and did. Per-key counters were already counted by the jobs. */
  recordPass(report: PassReport): void {
    const mode = report.deep ? 'deep' : 'routine';
    this.passes.inc({ dataset: report.dataset, mode, result: report.converged ? 'converged' : 'diverged' });
    this.passSeconds.observe({ dataset: report.dataset, mode }, report.durationMs / 1000);
    this.#setLastPass(report);
  }

  #setLastPass(report: PassReport): void {
    this.lastDivergentKeys.set({ dataset: report.dataset }, report.divergentKeys);
    this.lastRemaining.set({ dataset: report.dataset }, report.remaining);
    this.lastPassTimestamp.set({ dataset: report.dataset }, Date.parse(report.finishedAt) / 1000);
  }

  /** One read of the pass history per scrape, shared by the three gauges (collected at once). */
  #refreshLastPasses(): Promise<void> {
    const read = this.#lastPasses;
    if (read === undefined) return Promise.resolve();
    this.#refreshing ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('pass history not read in time')), LAST_PASS_READ_TIMEOUT_MS);
        });
        for (const report of await Promise.race([read(), timeout])) this.#setLastPass(report);
      } catch {
        // Redis unreachable: this instance's own values are the best there is.
      } finally {
        clearTimeout(timer);
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  /**
   * Counts one key's divergent copies, repairs, bytes and requests. A retried repair job passes
   * `countFound: false`: what it finds was already counted by the pass that found it.
   */
  recordKey(dataset: string, outcome: KeyOutcome, options: { countFound?: boolean } = {}): void {
    for (const [datacenter, copy] of Object.entries(outcome.copies)) {
      if (copy.status !== 'equal' && options.countFound !== false) this.copies.inc({ dataset, datacenter, status: copy.status });
      if (copy.result !== undefined) this.repairs.inc({ dataset, datacenter, result: copy.result });
    }
    this.bytesMoved.inc({ dataset }, outcome.bytesMoved);
    for (const [operation, n] of Object.entries(outcome.requests)) if (n > 0) this.requests.inc({ dataset, operation }, n);
  }
}
