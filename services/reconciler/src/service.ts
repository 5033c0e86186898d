import { setMaxListeners } from 'node:events';
import { assertOutlivesTopic, type Topology } from '@shardsync/config';
import { StorePool } from '@shardsync/objectstore';
import { createPassLock, lastPassSummary, TokenBucket, type PassRequest } from '@shardsync/reconcile';
import { closeService, startOpsServer, untilAborted, type Logger } from '@shardsync/runtime';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { ReconcilerEnv } from './env.js';
import type { JobDeps } from './jobs/deps.js';
import { holderRunningIn } from '@shardsync/reconcile-queue';
import { createProcessor } from './jobs/processor.js';
import { JOB, QUEUE_NAME, type PassJobData, type StagingGcJobData } from './jobs/types.js';
import { ReconcilerMetrics } from './metrics.js';
import { datasetsToReconcile, syncSchedules } from './schedule.js';
import { watchSchedules } from './schedule-watch.js';

export interface ReconcilerServiceOptions {
  readonly topology: Topology;
  readonly env: ReconcilerEnv;
  readonly logger: Logger;
  /** Aborted when a stop is requested while the reconciler starts: the start gives up, closes what it opened and rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** A running reconciler: a BullMQ worker (and, by default, the pass schedules) plus its ops server. */
export class ReconcilerService {
  readonly metrics: ReconcilerMetrics;
  /** Base URL of /healthz, /readyz and /metrics. */
  readonly url: string;
  /** The shared queue (passes, ranges, repairs), for inspection. */
  readonly queue: Queue;
  /** Where pass reports are kept: give it to `lastPassSummary(redis, dataset, { keyPrefix })`. */
  readonly historyPrefix: string;
  readonly #close: () => Promise<void>;
  #closing: Promise<void> | undefined;

  private constructor(url: string, metrics: ReconcilerMetrics, queue: Queue, historyPrefix: string, close: () => Promise<void>) {
    this.url = url;
    this.metrics = metrics;
    this.queue = queue;
    this.historyPrefix = historyPrefix;
    this.#close = close;
  }

  /** Queues a pass now (besides the schedule), e.g. for a test or an operator's request; returns the job id. */
  async enqueuePass(request: PassRequest): Promise<string> {
    const data: PassJobData = { request };
    const job = await this.queue.add(JOB.pass, data, { attempts: 2, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } });
    return job.id ?? '';
  }

  /** Queues a collection of one datacenter's staged bodies now (besides the schedule); returns the job id. */
  async enqueueStagingGc(datacenter: string): Promise<string> {
    const data: StagingGcJobData = { datacenter };
    const job = await this.queue.add(JOB.stagingGc, data, { attempts: 3, removeOnComplete: { count: 20 }, removeOnFail: { count: 20 } });
    return job.id ?? '';
  }

  /** Lets running jobs finish (within the grace period), then releases Redis, sockets and the port. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  static async start(options: ReconcilerServiceOptions): Promise<ReconcilerService> {
    const { topology, env, logger } = options;
    const datasets = datasetsToReconcile(topology, env); // fails fast on a misconfigured dataset list
    assertOutlivesTopic(topology, 'SHARDSYNC_TOMBSTONE_GRACE_MS', env.SHARDSYNC_TOMBSTONE_GRACE_MS);
    const prefix = env.SHARDSYNC_RECONCILER_REDIS_PREFIX;
    const historyOptions = { keyPrefix: `${prefix}:reconcile-history` };
    const closing = new AbortController();
    // Every in-flight store request listens on this one signal; many at once is expected, not a leak.
    setMaxListeners(0, closing.signal);
    // BullMQ workers need maxRetriesPerRequest: null; the queue and the history share the connection.
    const redis = new Redis(topology.redis.url, { maxRetriesPerRequest: null });
    redis.on('error', (err) => logger.warn({ err }, 'redis connection error'));
    const metrics = new ReconcilerMetrics(async () => {
      const reports = await Promise.all(datasets.map((dataset) => lastPassSummary(redis, dataset, historyOptions)));
      return reports.filter((r) => r !== undefined);
    });
    const stores = new StorePool(topology.datacenters);
    const queue = new Queue(QUEUE_NAME, { connection: redis, prefix });
    const deps: JobDeps = {
      topology,
      stores,
      queue,
      redis,
      env,
      metrics,
      logger,
      budget: new TokenBucket({ ratePerSecond: env.SHARDSYNC_RECONCILER_DEEP_BYTES_PER_SECOND }),
      history: historyOptions,
      passLock: createPassLock(redis, prefix, holderRunningIn(queue, JOB.pass)),
      signal: closing.signal,
    };
    const worker = new Worker(QUEUE_NAME, createProcessor(deps), {
      connection: redis,
      prefix,
      concurrency: env.SHARDSYNC_RECONCILER_CONCURRENCY,
      // A killed worker's jobs are taken over by another after the stall check; allow one more
      // stall than the default before giving up on a pass.
      maxStalledCount: 2,
    });
    worker.on('error', (err) => logger.error({ err }, 'worker error'));
    let ops: Awaited<ReturnType<typeof startOpsServer>> | undefined;
    let stopWatching = (): void => undefined;
    const close = (): Promise<void> =>
      closeService({
        logger,
        graceMs: env.SHARDSYNC_SHUTDOWN_GRACE_MS,
        // Long jobs (deep scans, big copies) are retried by another instance, and nothing half-written is ever visible.
        cutInFlight: () => closing.abort(new Error('reconciler closing')),
        addSteps: (steps, bounds) => {
          steps.add('schedule watch', async () => stopWatching());
          steps.add('worker', () => worker.close(), { timeoutMs: bounds.drainMs });
          steps.add('queue', () => queue.close());
          steps.add('redis', async () => {
            // quit() waits for an answer a Redis that never answered cannot give: disconnect() instead.
            if (redis.status === 'ready') await redis.quit();
            else redis.disconnect();
          });
          steps.add('object stores', () => stores.close());
          const server = ops;
          if (server !== undefined) steps.add('ops server', () => server.app.close());
        },
      });
    try {
      if (env.SHARDSYNC_RECONCILER_SCHEDULE) {
        // Waits for Redis as long as it takes (maxRetriesPerRequest: null), unless a stop comes first.
        const schedules = await untilAborted(syncSchedules(queue, topology, env, logger), options.signal);
        logger.info({ schedules }, 'pass schedules in place');
        stopWatching = watchSchedules(queue, topology, env, metrics, logger);
      }
      ops = await startOpsServer({
        host: env.SHARDSYNC_RECONCILER_HOST,
        port: env.SHARDSYNC_RECONCILER_PORT,
        registry: metrics.registry,
        readiness: [
          { name: 'redis', check: async () => void (await redis.ping()) },
          ...topology.datacenters.map((dc) => ({ name: `store:${dc.name}`, check: () => stores.of(dc.name).ping() })),
        ],
        health: () => (worker.isRunning() ? { ok: true } : { ok: false, detail: 'the BullMQ worker is not running' }),
      });
    } catch (err) {
      // Nothing of a start that failed stays open: the worker, the queue and Redis were connecting.
      // A step that fails to close is logged by the Shutdown; the start's own error is the one to report.
      await close().catch(() => undefined);
      throw err;
    }
    logger.info({ url: ops.url, queue: QUEUE_NAME, prefix }, 'reconciler started');

    return new ReconcilerService(ops.url, metrics, queue, deps.history.keyPrefix ?? '', close);
  }
}
