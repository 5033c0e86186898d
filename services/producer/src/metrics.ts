import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of the producer (`shardsync_producer_*`). */
export class ProducerMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'shardsync_producer_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly bytesIn = new Counter({
    name: 'shardsync_producer_bytes_in_total',
    help: 'Object body bytes received',
    registers: [this.registry],
  });
  readonly kafkaSendSeconds = new Histogram({
    name: 'shardsync_producer_kafka_send_seconds',
    help: 'Time from handing an event to Kafka until acks=all',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly eventsEmitted = new Counter({
    name: 'shardsync_producer_events_emitted_total',
    help: 'Events acknowledged by Kafka, by operation and payload kind',
    labelNames: ['operation', 'payload'] as const,
    registers: [this.registry],
  });
  readonly batchItems = new Counter({
    name: 'shardsync_producer_batch_items_total',
    help: 'Items of POST /v1/batch requests, by the status each item was answered with',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly stagedCleanups = new Counter({
    name: 'shardsync_producer_staged_cleanups_total',
    help: 'Staged payloads deleted because their event could not be emitted',
    registers: [this.registry],
  });

  readonly idempotencyConflicts = new Counter({
    name: 'shardsync_producer_idempotency_conflicts_total',
    help: "Idempotency-Key requests whose claim or answer met another request's (claim-lost, claim-expired, replaced-claim, answer-kept)",
    labelNames: ['conflict'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'shardsync_producer_' });
  }
}
