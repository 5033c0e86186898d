import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one datacenter's consumer (`shardsync_consumer_*`). */
export class ConsumerMetrics {
  readonly registry = new Registry();
  readonly applied = new Counter({ name: 'shardsync_consumer_events_applied_total', help: 'Updates applied to the local store', labelNames: ['operation'] as const, registers: [this.registry] });
  readonly skipped = new Counter({
    name: 'shardsync_consumer_events_skipped_total',
    help: 'Updates not applied: stale (lower version), duplicate (equal version), superseded (a higher version of the key in the same batch or at a peer), other-datacenters',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly deadLettered = new Counter({ name: 'shardsync_consumer_events_dead_lettered_total', help: 'Events sent to the dead-letter topic', labelNames: ['code'] as const, registers: [this.registry] });
  readonly retries = new Counter({ name: 'shardsync_consumer_apply_retries_total', help: 'Apply attempts that failed with a retriable error', labelNames: ['code'] as const, registers: [this.registry] });
  readonly bytesApplied = new Counter({ name: 'shardsync_consumer_bytes_applied_total', help: 'Object bytes written to the local store', registers: [this.registry] });
  readonly applySeconds = new Histogram({
    name: 'shardsync_consumer_apply_seconds',
    help: 'Time to apply one update in the batch that applied it, its retries there included (the replication lag histogram covers the whole wait)',
    labelNames: ['operation'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly replicationLagSeconds = new Histogram({
    name: 'shardsync_consumer_replication_lag_seconds',
    help: 'End-to-end lag: time the update became visible here minus the time the producer emitted it',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
    registers: [this.registry],
  });
  readonly offsetLag = new Gauge({
    name: 'shardsync_consumer_offset_lag_events',
    help: "Events of a partition this instance owns that the group has not committed yet: the partition's latest offset minus the group's committed offset, refreshed every 5 s",
    labelNames: ['partition'] as const,
    registers: [this.registry],
  });
  readonly tombstonesExpired = new Counter({
    name: 'shardsync_consumer_tombstones_expired_total',
    help: 'Tombstones past SHARDSYNC_TOMBSTONE_GRACE_MS deleted, by index reloads and periodic sweeps',
    registers: [this.registry],
  });
  readonly stalled = new Gauge({ name: 'shardsync_consumer_stalled', help: '1 while the watchdog sees no progress although events are waiting', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'shardsync_consumer_' });
  }
}
