import { setMaxListeners } from 'node:events';
import type { Topology } from '@shardsync/config';
import { ContiguousOffsetTracker, isMessageTooLarge, toDeadLetter, withoutValue, type ConsumedEvent, type EventSink, type PartitionBatch } from '@shardsync/eventlog';
import { compareVersions, type SchemaRegistry, type ShardUpdate } from '@shardsync/events';
import { isRetriable, retry, type Logger } from '@shardsync/runtime';
import type { Applier, ApplyOutcome } from '../apply/applier.js';
import { codeOf } from '../apply/errors.js';
import { logRetry } from '../apply/retry-log.js';
import type { ConsumerMetrics } from '../metrics.js';
import { classify, groupByKey, type KeyGroup } from './decode.js';
import { runBounded } from './bounded.js';

export interface ProcessorDeps {
  datacenter: string;
  topology: Topology;
  registry: SchemaRegistry;
  applier: Pick<Applier, 'apply'>;
  /** Where dead letters go (the dead-letter topic). */
  deadLetters: EventSink;
  metrics: ConsumerMetrics;
  logger: Logger;
  /** Keys applied at the same time. */
  concurrency: number;
  /** How long an event whose payload no source can serve keeps being retried before it is dead-lettered. */
  sourceWaitMs: number;
  /** The same, when the only source read has other bytes and no other holds the version (SHARDSYNC_SOURCE_BYTES_MISMATCH). */
  sourceMismatchWaitMs: number;
  /**
   * Tells the watchdog the handler is alive: an event finished, or an attempt failed and will be
   * retried. A partition waiting on a source or a store that is down is visibly retrying (logs,
   * `shardsync_consumer_apply_retries_total`, readiness), not silently stuck; restarting it would only
   * restart its waits (the source wait is counted per process) and rebalance the group.
   */
  onProgress: () => void;
  /** Aborts every pending retry when the service closes. */
  signal: AbortSignal;
  /** Interval of group heartbeats during long batches. Default 3000 ms. */
  heartbeatMs?: number;
}

/**
 * Handles one partition batch: decodes, dead-letters what can never apply, collapses updates
 * of a key to the highest version, applies keys concurrently (bounded) with retries, and
 * marks offsets done only as a contiguous prefix, so a crash or rebalance re-delivers exactly
 * what was not finished.
 */
export class BatchProcessor {
  readonly #d: ProcessorDeps;

  constructor(deps: ProcessorDeps) {
    this.#d = deps;
  }

  async handle(batch: PartitionBatch): Promise<void> {
    const first = batch.events[0];
    if (first === undefined) return;
    const tracker = new ContiguousOffsetTracker(first.offset);
    const finish = (events: readonly ConsumedEvent[]) => {
      for (const e of events) {
        const advanced = tracker.finish(e.offset);
        if (advanced !== undefined) batch.markDone(advanced.toString());
      }
      this.#d.onProgress();
    };
    // A refused heartbeat means the group is rebalancing (or this member's session is in doubt):
    // the keys in flight finish, no new one starts, and the batch returns so this member can
    // rejoin in time (kafkajs' rebalance timeout) instead of being dropped while it still applies.
    // What was not marked done is fetched again, by whichever member gets the partition.
    let rebalancing = false;
    const heartbeat = setInterval(() => {
      batch.heartbeat().catch((err: unknown) => {
        if (!rebalancing) this.#d.logger.info({ err, partition: batch.partition }, 'heartbeat refused (rebalancing): finishing the keys in flight and starting no more');
        rebalancing = true;
      });
    }, this.#d.heartbeatMs ?? 3000);
    const stop = new AbortController();
    // Each key being applied (up to `concurrency`) listens for the stop while it waits to retry.
    setMaxListeners(0, stop.signal);
    const onClose = () => stop.abort(this.#d.signal.reason);
    this.#d.signal.addEventListener('abort', onClose, { once: true });
    try {
      const updates: Array<{ event: ConsumedEvent; update: ShardUpdate }> = [];
      for (const event of batch.events) {
        const c = classify(event, this.#d.topology, this.#d.datacenter, this.#d.registry);
        if (c.kind === 'dead') {
          await this.#deadLetter(event, c.code, c.message, stop.signal);
          finish([event]);
        } else if (c.kind === 'not-ours') {
          this.#d.metrics.skipped.inc({ reason: 'other-datacenters' });
          finish([event]);
        } else {
          updates.push({ event, update: c.update });
        }
      }
      await runBounded(groupByKey(updates), this.#d.concurrency, async (group) => {
        if (!batch.isActive() || stop.signal.aborted || rebalancing) return;
        await this.#applyGroup(group, stop.signal, batch);
        finish(group.updates.map((u) => u.event));
      });
      if (batch.isActive()) await batch.commit();
    } finally {
      clearInterval(heartbeat);
      this.#d.signal.removeEventListener('abort', onClose);
    }
  }

  /** Applies the highest version of a key; if it can never apply, dead-letters it and tries the next. */
  async #applyGroup(group: KeyGroup, signal: AbortSignal, batch: PartitionBatch): Promise<void> {
    const byVersion = [...group.updates].sort((a, b) => compareVersions(b.update.version, a.update.version));
    const superseded = byVersion.length - 1;
    for (const [i, { event, update }] of byVersion.entries()) {
      const outcome = await this.#applyOne(event, update, signal, batch);
      if (outcome !== 'dead') {
        if (superseded - i > 0) this.#d.metrics.skipped.inc({ reason: 'superseded' }, superseded - i);
        return;
      }
    }
  }

  async #applyOne(event: ConsumedEvent, update: ShardUpdate, signal: AbortSignal, batch: PartitionBatch): Promise<ApplyOutcome | 'dead'> {
    // The source wait counts from the first of an unbroken run of "no source readable" failures,
    // so time spent waiting for something else (this datacenter's bucket, its store) is not held
    // against the source.
    let sourceMissingSince: number | undefined;
    const end = this.#d.metrics.applySeconds.startTimer({ operation: update.operation });
    try {
      const outcome = await retry(
        async () => {
          // Fenced from before the attempt reads the key: a put that may have outlived this
          // member's hold on the partition checks for a newer delete after writing.
          const attempt = await this.#d.applier.apply(update, signal, batch.fence());
          return attempt;
        },
        {
          maxAttempts: Infinity,
          initialDelayMs: 200,
          maxDelayMs: 15_000,
          signal,
          isRetriable: (err) => {
            const code = codeOf(err);
            const waitMs = code === 'SHARDSYNC_SOURCE_UNAVAILABLE' ? this.#d.sourceWaitMs : code === 'SHARDSYNC_SOURCE_BYTES_MISMATCH' ? this.#d.sourceMismatchWaitMs : undefined;
            sourceMissingSince = waitMs === undefined ? undefined : (sourceMissingSince ?? Date.now());
            return isRetriableNow(err, sourceMissingSince, waitMs);
          },
          onRetry: (err, attempt, delayMs) => {
            this.#d.onProgress();
            this.#d.metrics.retries.inc({ code: codeOf(err) });
            logRetry(this.#d.logger, err, { dataset: update.dataset, key: update.key, attempt, delayMs }, 'apply failed; retrying');
          },
        },
      );
      end();
      if (outcome.result === 'applied') {
        this.#d.metrics.applied.inc({ operation: update.operation });
        this.#d.metrics.bytesApplied.inc(outcome.bytes);
        this.#d.metrics.replicationLagSeconds.observe(Math.max(0, Date.now() - update.producedAtMs) / 1000);
      } else {
        this.#d.metrics.skipped.inc({ reason: outcome.reason });
      }
      return outcome;
    } catch (err) {
      if (signal.aborted) throw err;
      await this.#deadLetter(event, codeOf(err), err instanceof Error ? err.message : String(err), signal);
      return 'dead';
    }
  }

  async #deadLetter(event: ConsumedEvent, code: string, message: string, signal: AbortSignal): Promise<void> {
    let letter = toDeadLetter(event, { datacenter: this.#d.datacenter, code, message }, Date.now());
    const where = { topic: event.topic, partition: event.partition, offset: event.offset };
    await retry(
      async () => {
        try {
          await this.#d.deadLetters.append(this.#d.topology.kafka.topics.deadLetters, [letter]);
        } catch (err) {
          // Too large with its headers: sent again at once without the original's value.
          if (isMessageTooLarge(err) && letter.value.length > 0) letter = withoutValue(letter);
          throw err;
        }
      },
      {
        maxAttempts: Infinity,
        maxDelayMs: 10_000,
        signal,
        // Whatever Kafka answers (the topic missing, writes not authorised) is the environment's
        // to fix, not a reason to crash: a crash would stop every partition of the datacenter
        // and come back on the same event. The partition waits, visibly, as for a store that is down.
        isRetriable: () => true,
        onRetry: (err, attempt, delayMs) => {
          this.#d.onProgress();
          this.#d.metrics.retries.inc({ code: codeOf(err) });
          logRetry(this.#d.logger, err, { ...where, attempt, delayMs }, 'could not write a dead letter; retrying');
        },
      },
    );
    this.#d.metrics.deadLettered.inc({ code });
    this.#d.logger.error({ code, message, topic: event.topic, partition: event.partition, offset: event.offset }, 'event dead-lettered');
  }
}

/**
 * Retriable errors are retried (a missing bucket of this datacenter included: see
 * `LocalBucketMissingError`), except a missing source once it has been missing for too long.
 */
function isRetriableNow(err: unknown, sourceMissingSinceMs: number | undefined, sourceWaitMs: number | undefined): boolean {
  if (!isRetriable(err)) return false;
  if (sourceMissingSinceMs !== undefined && sourceWaitMs !== undefined && Date.now() - sourceMissingSinceMs > sourceWaitMs) return false;
  return true;
}
