import { setMaxListeners } from 'node:events';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { Topology } from '@shardsync/config';
import { getDatacenter, kafkaConnectionOf, topicsOf } from '@shardsync/config';
import { createKafkaClient, EventLogAdmin, KafkaEventSink } from '@shardsync/eventlog';
import { HybridLogicalClock, systemClock, type Clock } from '@shardsync/events';
import { StorePool } from '@shardsync/objectstore';
import { closeService, logTo, retry, untilAborted, type Logger } from '@shardsync/runtime';
import { Budget } from './admission.js';
import { parseTokens, TokenAuthenticator } from './auth/tokens.js';
import { ClockLease } from './clock/lease.js';
import { ObjectLeaseStore } from './clock/object-lease-store.js';
import { clockLeaseWindowMs, generatedProducerId, type ProducerEnv } from './env.js';
import { buildServer } from './http/server.js';
import { RedisIdempotencyStore } from './idempotency/redis-store.js';
import { Idempotency } from './ingest/idempotency.js';
import { Ingestor } from './ingest/ingestor.js';
import { sourcesIn } from './ingest/source-stores.js';
import { StartingIngest } from './ingest/starting.js';
import { ProducerMetrics } from './metrics.js';

/** A producer without a clock lease never waits for one to be renewed. */
const NO_LEASE = { whenRenewed: (): Promise<void> => Promise.resolve() };

export interface ProducerServiceOptions {
  topology: Topology;
  env: ProducerEnv;
  logger: Logger;
  /** The wall clock versions are taken from. Default the system clock. */
  clock?: Clock;
  /** Aborted when a stop is requested while the producer starts: the start gives up, closes what it opened and rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** A running producer: the HTTP API and what it writes to. */
export class ProducerService {
  readonly url: string;
  readonly metrics: ProducerMetrics;
  readonly #close: () => Promise<void>;
  #closing: Promise<void> | undefined;

  private constructor(url: string, metrics: ProducerMetrics, close: () => Promise<void>) {
    this.url = url;
    this.metrics = metrics;
    this.#close = close;
  }

  /**
   * Stops accepting, lets in-flight requests finish, flushes queued events, disconnects. Idempotent.
   * Requests still receiving their body halfway through SHARDSYNC_SHUTDOWN_GRACE_MS are cut short
   * (503, their staging uploads aborted), leaving the rest of the grace period for the aborts and the flush.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  static async start({ topology, env, logger, clock = systemClock, signal }: ProducerServiceOptions): Promise<ProducerService> {
    const datacenter = getDatacenter(topology, env.SHARDSYNC_DATACENTER).name;
    const auth = new TokenAuthenticator(parseTokens(env.SHARDSYNC_PRODUCER_TOKENS));
    // Before anything opens: a missing certificate or secret stops the start with nothing to close.
    const kafkaConnection = kafkaConnectionOf(topology.kafka);
    const metrics = new ProducerMetrics();
    const pool = new StorePool(topology.datacenters);
    const originStore = pool.of(datacenter);
    const kafka = createKafkaClient({ ...kafkaConnection, clientId: `${topology.kafka.clientId}-producer`, log: logTo(logger, 'kafkajs') });
    const admin = new EventLogAdmin(kafka);
    const sink = new KafkaEventSink(kafka);
    // Auto-pipelining: the claims and answers of a batch's items, issued in the same tick, share one write.
    const redis = new Redis(topology.redis.url, { maxRetriesPerRequest: 2, enableOfflineQueue: false, lazyConnect: true, enableAutoPipelining: true });
    redis.on('error', (err) => logger.warn({ err }, 'redis connection error'));
    const idempotencyStore = new RedisIdempotencyStore(redis);
    const idempotency = new Idempotency(idempotencyStore, env.SHARDSYNC_PRODUCER_IDEMPOTENCY_TTL_MS, logger, {
      metrics,
      resend: (event) => sink.append(event.topic, [{ key: event.key, value: Buffer.from(event.value, 'base64'), headers: event.headers }]),
    });

    // Before the first version: it must be above every version this producer id issued before.
    // Only a fixed id has earlier runs to stay above (see generatedProducerId).
    const fixedId = env.SHARDSYNC_PRODUCER_ID;
    // Qualified by the datacenter: a fixed id is fenced (one process at a time) only by the lease
    // in its own datacenter's store, and the same id in two datacenters (the pod names of a
    // StatefulSet in each cluster) would otherwise issue equal versions for different updates.
    const producerId = `${datacenter}:${fixedId ?? generatedProducerId()}`;
    let clockLease: ClockLease | undefined;
    const starting = new StartingIngest();
    // Fired by close(): the bodies still arriving are abandoned (see whileSending).
    const closing = new AbortController();
    // Every body being read waits on it: many at once is expected, not a leak.
    setMaxListeners(0, closing.signal);
    const app: FastifyInstance = buildServer({
      ingest: starting,
      auth,
      metrics,
      logger,
      maxBodyBytes: env.SHARDSYNC_PRODUCER_MAX_BODY_BYTES,
      batchMaxBytes: env.SHARDSYNC_PRODUCER_BATCH_MAX_BYTES,
      batchBudget: new Budget(env.SHARDSYNC_PRODUCER_BATCH_BYTES_IN_FLIGHT, 'bytes of batch bodies'),
      bodyIdleTimeoutMs: env.SHARDSYNC_PRODUCER_BODY_IDLE_TIMEOUT_MS,
      closing: closing.signal,
      readiness: [
        { name: 'started', check: async () => starting.check() },
        { name: 'kafka', check: () => sink.ping() },
        { name: `store:${datacenter}`, check: () => originStore.ping() },
        ...(fixedId === undefined ? [] : [{ name: 'clock-lease', check: () => (clockLease === undefined ? Promise.reject(new Error('not taken yet')) : clockLease.check()) }]),
      ],
    });
    const close = (): Promise<void> =>
      closeService({
        logger,
        graceMs: env.SHARDSYNC_SHUTDOWN_GRACE_MS,
        // The process exits when the grace period ends (main), so in-flight requests get its first
        // half: a large body still streaming in then would be cut off by the exit with its staging
        // upload left incomplete (its parts taking space until the staging collector aborts it,
        // days later). Cut short, its upload is aborted before it is answered 503. Parts already being
        // sent are let finish first: one cut off mid-request can be stored after the abort (runMultipart).
        cutInFlight: () => closing.abort(),
        addSteps: (steps, bounds) => {
          // fastify.close stops accepting and waits for in-flight requests, whose events are
          // flushed by the sink before they answer (and whose connections then close: see buildServer).
          steps.add('http server', () => app.close(), { timeoutMs: bounds.drainMs });
          steps.add('event sink', () => sink.close());
          const lease = clockLease;
          if (lease !== undefined) steps.add('clock lease', () => lease.close());
          steps.add('kafka admin', () => admin.close());
          steps.add('idempotency answers', () => idempotency.close());
          steps.add('idempotency store', () => idempotencyStore.close());
          steps.add('object stores', () => pool.close());
        },
      });
    let url: string;
    try {
      // Each attempt (kafkajs retries within it for seconds) is given up on a stop, not only the waits between them.
      await retry(
        () =>
          untilAborted(
            (async () => {
              await admin.ensureTopics(topicsOf(topology));
              await sink.connect();
            })(),
            signal,
          ),
        { maxAttempts: 20, maxDelayMs: 3000, signal },
      );
      // Listening before the lease is taken: a process that cannot bind its port (another one of
      // the same id already runs there) must fail before it takes the lease from the running one,
      // which would leave no working producer of that id.
      url = await app.listen({ host: env.SHARDSYNC_PRODUCER_HOST, port: env.SHARDSYNC_PRODUCER_PORT });
      if (fixedId !== undefined) {
        const id = fixedId;
        // An acquire is let finish on a stop (only the waits between attempts are cut): one given
        // up halfway could take the lease after close() looked for it, and never release it.
        clockLease = await retry(() => ClockLease.acquire({ store: new ObjectLeaseStore(originStore, id), clock, logger, windowMs: clockLeaseWindowMs(env) }), { maxAttempts: 20, maxDelayMs: 3000, signal });
      }
      await redis.connect().catch((err: unknown) => logger.warn({ err }, 'redis unavailable at start; Idempotency-Key requests get 503 until it answers'));
      starting.started(
        new Ingestor({
          topology,
          datacenter,
          originStore,
          sources: sourcesIn(pool),
          sink,
          clock: new HybridLogicalClock({ producerId, maxDriftMs: env.SHARDSYNC_MAX_CLOCK_DRIFT_MS, clock, ...(clockLease === undefined ? {} : { lease: clockLease }) }),
          clockLease: clockLease ?? NO_LEASE,
          producerId,
          idempotency,
          uploads: new Budget(env.SHARDSYNC_PRODUCER_MAX_UPLOADS, 'uploads into the staging area'),
          metrics,
          logger,
          options: {
            inlineMaxBytes: env.SHARDSYNC_PRODUCER_INLINE_MAX_BYTES,
            maxBodyBytes: env.SHARDSYNC_PRODUCER_MAX_BODY_BYTES,
            bodyIdleTimeoutMs: env.SHARDSYNC_PRODUCER_BODY_IDLE_TIMEOUT_MS,
          },
        }),
      );
    } catch (err) {
      // Nothing of a start that failed stays open: Kafka, Redis and the stores were connected.
      // A step that fails to close is logged by the Shutdown; the start's own error is the one to report.
      await close().catch(() => undefined);
      throw err;
    }
    logger.info({ url, producerId, clockLease: clockLease !== undefined }, 'producer started'); // the logger carries the datacenter

    return new ProducerService(url, metrics, close);
  }
}
