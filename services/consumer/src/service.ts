import { setMaxListeners } from 'node:events';
import type { Topology } from '@shardsync/config';
import { assertOutlivesTopic, consumerGroupOf, getDatacenter, kafkaConnectionOf, topicsOf } from '@shardsync/config';
import { createKafkaClient, EventLogAdmin, isCoordinatorMoving, KafkaEventSink, KafkaEventSource, type PartitionBatch } from '@shardsync/eventlog';
import { bundledSchemaRegistry } from '@shardsync/events';
import { StorePool } from '@shardsync/objectstore';
import { closeService, logTo, retry, startOpsServer, untilAborted, type Logger } from '@shardsync/runtime';
import { Applier } from './apply/applier.js';
import { LocalStore } from './apply/local-store.js';
import { logRetry } from './apply/retry-log.js';
import { TransferSlots } from './apply/transfer-slots.js';
import { BatchProcessor } from './batch/processor.js';
import { tombstoneSweepIntervalMs, type ConsumerEnv } from './env.js';
import { GroupMembership } from './group-membership.js';
import { ConsumerMetrics } from './metrics.js';
import { OffsetLagReporter, ownedLag } from './offset-lag.js';
import { IndexLoads } from './state/index-loads.js';
import { LocalState } from './state/local-state.js';
import { TombstoneIndex } from './state/tombstone-index.js';
import { TombstoneSweeper } from './state/tombstone-sweeper.js';
import { Watchdog } from './watchdog.js';

export interface ConsumerServiceOptions {
  topology: Topology;
  env: ConsumerEnv;
  logger: Logger;
  /** Called when the consumer can no longer work (Kafka client gave up, watchdog fired): main exits non-zero. */
  onFatal: (reason: string, err?: unknown) => void;
  /** Aborted when a stop is requested while the consumer starts: the start gives up, closes what it opened and rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** The consumer group of a datacenter: every instance of one datacenter shares it. */
export const groupIdOf = consumerGroupOf;

/** A running consumer of one datacenter. */
export class ConsumerService {
  readonly metrics: ConsumerMetrics;
  /** Base URL of /healthz, /readyz and /metrics. */
  readonly url: string;
  readonly #close: () => Promise<void>;
  readonly #cutRetries: () => void;
  readonly #assigned: () => number[];
  #closing: Promise<void> | undefined;

  private constructor(url: string, metrics: ConsumerMetrics, assigned: () => number[], close: () => Promise<void>, cutRetries: () => void) {
    this.url = url;
    this.metrics = metrics;
    this.#assigned = assigned;
    this.#close = close;
    this.#cutRetries = cutRetries;
  }

  /** Partitions of the updates topic this instance owns now. */
  assignedPartitions(): number[] {
    return this.#assigned();
  }

  /** Drains in-flight applies, commits, leaves the group and releases sockets. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /**
   * Closes without waiting for pending retries (a store that is down, a missing bucket): they
   * end at once and their events stay uncommitted, for the restarted process to apply. For a
   * process that is exiting anyway. Idempotent, and safe during or after `close()`.
   */
  abort(): Promise<void> {
    this.#cutRetries();
    return this.close();
  }

  static async start(options: ConsumerServiceOptions): Promise<ConsumerService> {
    const { topology, env, logger } = options;
    assertOutlivesTopic(topology, 'SHARDSYNC_TOMBSTONE_GRACE_MS', env.SHARDSYNC_TOMBSTONE_GRACE_MS);
    const datacenter = getDatacenter(topology, env.SHARDSYNC_DATACENTER).name;
    // Before anything opens: a missing certificate or secret stops the start with nothing to close.
    const kafkaConnection = kafkaConnectionOf(topology.kafka);
    const topic = topology.kafka.topics.updates;
    const groupId = groupIdOf(datacenter);
    const metrics = new ConsumerMetrics();
    const closing = new AbortController();
    // Every partition batch and every pending retry listens on it; that is expected, not a leak.
    setMaxListeners(0, closing.signal);

    // Events name the buckets of their sources, and anyone able to produce to the topic can name
    // any: only a bounded number of stores of other buckets than the topology's stay open.
    // Every listing of the consumer's (its tombstone index) must see every key, artifacts or not.
    const pool = new StorePool(topology.datacenters, {}, { maxOtherBuckets: env.SHARDSYNC_CONSUMER_MAX_OTHER_BUCKETS, listArtifacts: true });
    const local = new LocalStore(pool.of(datacenter));
    const tombstones = new TombstoneIndex(local, env.SHARDSYNC_TOMBSTONE_GRACE_MS);
    const state = new LocalState(local, tombstones, env.SHARDSYNC_CONSUMER_STATE_CACHE_ENTRIES);
    const kafka = createKafkaClient({ ...kafkaConnection, clientId: `${topology.kafka.clientId}-consumer-${datacenter}`, log: logTo(logger, 'kafkajs') });
    const admin = new EventLogAdmin(kafka);
    const deadLetters = new KafkaEventSink(kafka);


    // Neither the watchdog nor the lag metrics retry, and kafkajs does not retry an offset fetch:
    // right after a broker restart the group coordinator moves or loads for a moment, which would
    // skip a watchdog check (read as "nothing pending") and a metrics refresh. Bounded (about
    // 1 s on average, 2.4 s at most) and cut short on close; any other failure is not retried.
    const groupLag = () => retry(() => admin.groupLag(groupId, topic), { maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 1000, isRetriable: isCoordinatorMoving, signal: closing.signal });
    const watchdog = new Watchdog({
      stallMs: env.SHARDSYNC_CONSUMER_STALL_MS,
      // Only this instance's partitions: another member's backlog is no sign this one is stuck
      // (kafkajs never hands an instance an empty batch, so quiet partitions report nothing).
      pending: async () => ownedLag(await groupLag(), source.assignedPartitions()),
      onStall: (idleMs, pending) => {
        metrics.stalled.set(1);
        logger.error({ idleMs, pending }, 'watchdog: no progress while events are waiting');
        if (env.SHARDSYNC_CONSUMER_EXIT_ON_STALL) options.onFatal('watchdog: consumer stalled');
      },
      onRecover: () => {
        metrics.stalled.set(0);
        logger.info('watchdog: progress again');
      },
    });

    // The previous owner of a newly assigned partition may have written tombstones and states
    // this instance has not seen: the index is reloaded on every assignment (IndexLoads), and a
    // batch waits for the latest load before it starts. (Batches already applying when a rejoin
    // starts a load, e.g. one kafkajs begins after one broker's fetch error, go on; the index
    // keeps the keys they add meanwhile: TombstoneIndex.) Each attempt lists afresh; a
    // store that is down or a bucket not created yet makes the partitions wait (retried until it
    // works, a newer assignment supersedes it, or the service closes).
    const indexLoads = new IndexLoads(
      (cancelled) =>
        retry(() => tombstones.reload(), {
          maxAttempts: Infinity,
          maxDelayMs: 5000,
          signal: cancelled,
          onRetry: (err, attempt, delayMs) => {
            // Visibly retrying (logs, readiness), like an apply that waits: a store that is down
            // must not make the watchdog restart the consumer, whose restart only reloads again.
            watchdog.progress();
            logRetry(logger, err, { attempt, delayMs }, 'tombstone index not loaded; retrying');
          },
        }).then((r) => {
          metrics.tombstonesExpired.inc(r.expired);
          logger.info(r, 'tombstone index loaded');
        }),
      closing.signal,
    );
    const processor = new BatchProcessor({
      datacenter,
      topology,
      registry: bundledSchemaRegistry(),
      applier: new Applier({
        local,
        state,
        tombstones,
        storeFor: (dc, bucket) => pool.at(dc, bucket),
        peersOf: (dataset) => (topology.datasets.find((d) => d.name === dataset)?.datacenters ?? []).map((dc) => ({ datacenter: dc, bucket: getDatacenter(topology, dc).s3.bucket })),
        onBytes: () => watchdog.progress(),
        slots: new TransferSlots(env.SHARDSYNC_CONSUMER_MAX_TRANSFERS),
      }),
      deadLetters,
      metrics,
      logger,
      concurrency: env.SHARDSYNC_CONSUMER_CONCURRENCY,
      sourceWaitMs: env.SHARDSYNC_SOURCE_WAIT_MS,
      sourceMismatchWaitMs: env.SHARDSYNC_SOURCE_MISMATCH_WAIT_MS,
      onProgress: () => watchdog.progress(),
      signal: closing.signal,
    });
    /** Set once close() begins. */
    let stopping = false;
    const membership = new GroupMembership(groupId);
    const source = new KafkaEventSource(kafka, {
      groupId,
      topic,
      partitionsConsumedConcurrently: env.SHARDSYNC_CONSUMER_PARTITIONS_CONCURRENTLY,
      onMembershipChange: (change) => membership.observe(change),
      onFatal: (err) => {
        // Closing cuts pending retries and S3 requests short: the batch handler then fails with an
        // abort, which kafkajs reports as a crash. That is the shutdown working, not a fault.
        if (stopping) {
          logger.info({ err }, 'the Kafka consumer stopped on an aborted batch while closing');
          return;
        }
        options.onFatal('the Kafka consumer crashed and will not restart', err);
      },
      onAssignment: (partitions) => {
        logger.info({ partitions }, 'partitions assigned');
        state.clear();
        indexLoads.restart();
      },
    });
    // A stable group never reloads the index: without this, tombstones would never expire.
    const sweeper = new TombstoneSweeper({
      index: tombstones,
      intervalMs: tombstoneSweepIntervalMs(env),
      logger,
      onSwept: (r) => metrics.tombstonesExpired.inc(r.expired),
    });
    const handle = async (batch: PartitionBatch): Promise<void> => {
      // kafkajs heartbeats only between batches: a batch waiting for a long listing or a store
      // that is down would let the session expire, and each rejoin restarts the load.
      const beating = setInterval(() => void batch.heartbeat().catch(() => undefined), 3000);
      try {
        await indexLoads.loaded();
      } finally {
        clearInterval(beating);
      }
      await processor.handle(batch);
    };
    const offsetLag = new OffsetLagReporter({
      lag: groupLag,
      assigned: () => source.assignedPartitions(),
      gauge: metrics.offsetLag,
      logger,
    });

    let ops: Awaited<ReturnType<typeof startOpsServer>> | undefined;
    const cutRetries = (): void => closing.abort(new Error('consumer closing'));
    const close = (): Promise<void> => {
      stopping = true;
      return closeService({
        logger,
        graceMs: env.SHARDSYNC_SHUTDOWN_GRACE_MS,
        // Let in-flight applies finish; cut pending retries short if the store stays down. Armed
        // first: stopping the lag reader waits for a read in flight, which Kafka being down can
        // stretch, and that time counts against the same grace period.
        cutInFlight: cutRetries,
        addSteps: (steps, bounds) => {
          steps.add('watchdog', async () => watchdog.stop());
          steps.add('lag reader', () => offsetLag.stop());
          // Before the stores close under its requests.
          steps.add('tombstone sweeper', () => sweeper.stop());
          steps.add('consumer group', () => source.close(), { timeoutMs: bounds.drainMs });
          steps.add('dead-letter producer', () => deadLetters.close());
          steps.add('kafka admin', () => admin.close());
          steps.add('object stores', () => pool.close());
          const server = ops;
          if (server !== undefined) steps.add('ops server', () => server.app.close());
        },
      });
    };
    try {
      // Each attempt (kafkajs retries within it for seconds) is given up on a stop, not only the waits between them.
      const stop = AbortSignal.any([closing.signal, ...(options.signal === undefined ? [] : [options.signal])]);
      await retry(() => untilAborted(admin.ensureTopics(topicsOf(topology)), stop), { maxAttempts: 20, maxDelayMs: 3000, signal: stop });
      await warnOfLongRetention(admin, topic, env.SHARDSYNC_TOMBSTONE_GRACE_MS, logger);
      ops = await startOpsServer({
        host: env.SHARDSYNC_CONSUMER_HOST,
        port: env.SHARDSYNC_CONSUMER_PORT,
        registry: metrics.registry,
        readiness: [
          { name: 'kafka', check: () => deadLetters.ping() },
          { name: `store:${datacenter}`, check: () => local.ping() },
          { name: 'consumer-group', check: () => membership.check() },
        ],
        health: () => (watchdog.stalled ? { ok: false, detail: 'no progress while events are waiting' } : { ok: true }),
      });
      // Let finish even on a stop: a consumer closed while it connects could be left running once the connect ends.
      await source.start(handle);
    } catch (err) {
      // Nothing of a start that failed stays open: Kafka and the stores were connected.
      // A step that fails to close is logged by the Shutdown; the start's own error is the one to report.
      await close().catch(() => undefined);
      throw err;
    }
    watchdog.start();
    offsetLag.start();
    sweeper.start();
    logger.info({ datacenter, groupId, topic, url: ops.url }, 'consumer started');
    return new ConsumerService(ops.url, metrics, () => source.assignedPartitions(), close, cutRetries);
  }
}

/**
 * The topology's kafka.retentionMs is checked against the tombstone grace at start, but a topic
 * created before (or by hand) keeps its own retention: say so loudly when that one is too long.
 */
async function warnOfLongRetention(admin: EventLogAdmin, topic: string, tombstoneGraceMs: number, logger: Logger): Promise<void> {
  const retention = await admin.retentionMs(topic).catch((err: unknown) => {
    logger.warn({ err, topic }, 'could not read the retention of the updates topic');
    return undefined;
  });
  if (retention !== undefined && retention >= tombstoneGraceMs) {
    logger.error(
      { topic, retentionMs: retention, tombstoneGraceMs },
      'the updates topic keeps events at least as long as tombstones live: a late, older put could bring a deleted key back; lower the topic\'s retention.ms below SHARDSYNC_TOMBSTONE_GRACE_MS',
    );
  }
}
