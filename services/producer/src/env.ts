import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { MAX_TIMER_MESSAGE, MAX_TIMER_MS } from '@shardsync/config';
import { DEFAULT_CLOCK_LEASE_WINDOW_MS } from './clock/lease.js';
import { CLAIM_TTL_MS } from './idempotency/store.js';
import { CLAIM_REFRESH_MS } from './ingest/idempotency.js';

const bytes = z.coerce.number().int().positive();

/** The producer's environment, parsed once at start (see README "Configuration reference"). */
export const producerEnvSchema = z.object({
  /** The datacenter this producer runs in: large bodies are staged in its store. */
  SHARDSYNC_DATACENTER: z.string().min(1, 'name the datacenter this producer runs in, e.g. dc-a'),
  /** Interface and port of the HTTP API. */
  SHARDSYNC_PRODUCER_HOST: z.string().default('127.0.0.1'),
  SHARDSYNC_PRODUCER_PORT: z.coerce.number().int().min(0).max(65535).default(18080),
  /**
   * Id of this producer instance: the tie-break of equal clock readings, and the key of its clock
   * lease. Unset: {@link generatedProducerId}, new at every start, and no lease (see README, "Restarts").
   */
  SHARDSYNC_PRODUCER_ID: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).optional(),
  /**
   * Bearer tokens and the datasets each may write: `name:token:dataset1,dataset2` entries
   * separated by `;`, `*` for every dataset. Secrets: pass them in the environment only.
   */
  SHARDSYNC_PRODUCER_TOKENS: z.string().min(1, 'at least one bearer token is needed (name:token:datasets)'),
  /** Bodies up to this size travel inside the event; larger ones are staged. Default 64 KiB. */
  SHARDSYNC_PRODUCER_INLINE_MAX_BYTES: bytes.max(512 * 1024, 'inline payloads must stay well below the Kafka message limit (1 MiB)').default(64 * 1024),
  /** Largest accepted body; larger requests get 413. Default 50 GiB. */
  SHARDSYNC_PRODUCER_MAX_BODY_BYTES: bytes.default(50 * 1024 ** 3),
  /** Largest `POST /v1/batch` request body (binary or JSON form, all items' bodies included); larger requests get 413. Default 16 MiB. */
  SHARDSYNC_PRODUCER_BATCH_MAX_BYTES: bytes.max(256 * 1024 ** 2, 'a batch is held whole in memory while it is processed; keep it small').default(16 * 1024 ** 2),
  /**
   * How long a request's body may send nothing before the request is abandoned (its
   * Idempotency-Key freed, its memory and staging upload dropped). Default 60 s.
   */
  SHARDSYNC_PRODUCER_BODY_IDLE_TIMEOUT_MS: z.coerce.number().int().min(1000).max(MAX_TIMER_MS, MAX_TIMER_MESSAGE).default(60_000),
  /** Large bodies streamed into the origin's staging area at once; more get 503 (each holds up to ~5 parts of memory). Default 4. */
  SHARDSYNC_PRODUCER_MAX_UPLOADS: z.coerce.number().int().min(1).default(4),
  /** Bytes of `POST /v1/batch` bodies held at once; more get 503. Default 64 MiB, at least SHARDSYNC_PRODUCER_BATCH_MAX_BYTES. */
  SHARDSYNC_PRODUCER_BATCH_BYTES_IN_FLIGHT: bytes.default(64 * 1024 ** 2),
  /**
   * How long an Idempotency-Key is remembered. Default 24 h. At least a claim's lifetime (5 min):
   * a claim lives the shorter of the two and is extended only every minute.
   */
  SHARDSYNC_PRODUCER_IDEMPOTENCY_TTL_MS: z.coerce
    .number()
    .int()
    .min(
      CLAIM_TTL_MS,
      `must be at least ${CLAIM_TTL_MS} ms (5 min): a running request's claim lives the shorter of this and 5 min and is extended every ${CLAIM_REFRESH_MS} ms, so a shorter one can expire before it is extended and let a retry emit a second event`,
    )
    .default(24 * 3600 * 1000),
  /** Time allowed for in-flight requests to finish on SIGTERM. Default 30 s. */
  SHARDSYNC_SHUTDOWN_GRACE_MS: z.coerce.number().int().positive().max(MAX_TIMER_MS, MAX_TIMER_MESSAGE).default(30_000),
  /**
   * How far ahead of the wall clock the clock lease's persisted bound lies (README "Restarts"):
   * the producer writes the bound to its origin store once per half window. A restarted producer
   * issues versions above its previous run's bound, i.e. up to one window ahead of the wall clock
   * until the clock catches up, so it must stay well below SHARDSYNC_MAX_CLOCK_DRIFT_MS (checked).
   * Unset: {@link clockLeaseWindowMs}. Used only with SHARDSYNC_PRODUCER_ID.
   */
  SHARDSYNC_PRODUCER_CLOCK_LEASE_WINDOW_MS: z.coerce.number().int().min(1000, 'must be at least 1000 ms: the bound is rewritten every half window').optional(),
  /**
   * How far ahead of the wall clock the clock lease's bound may run (the lease window is at most
   * half of it). Producers do not read each other's versions, so nothing else uses it. Default 60 s.
   */
  SHARDSYNC_MAX_CLOCK_DRIFT_MS: z.coerce.number().int().positive().default(60_000),
}).superRefine((env, ctx) => {
  // Versions of a just-restarted producer lie up to one window ahead of its clock: the drift
  // limit bounds that, with room to spare for the clock's own skew.
  const window = env.SHARDSYNC_PRODUCER_CLOCK_LEASE_WINDOW_MS;
  if (window !== undefined && window * 2 > env.SHARDSYNC_MAX_CLOCK_DRIFT_MS) {
    ctx.addIssue({
      code: 'custom',
      path: ['SHARDSYNC_PRODUCER_CLOCK_LEASE_WINDOW_MS'],
      message: `must be at most half of SHARDSYNC_MAX_CLOCK_DRIFT_MS (${env.SHARDSYNC_MAX_CLOCK_DRIFT_MS} ms): a restarted producer's versions lie up to one window ahead of its clock, and the drift limit bounds how far ahead that may be`,
    });
  }
  if (env.SHARDSYNC_PRODUCER_BATCH_BYTES_IN_FLIGHT < env.SHARDSYNC_PRODUCER_BATCH_MAX_BYTES) {
    ctx.addIssue({
      code: 'custom',
      path: ['SHARDSYNC_PRODUCER_BATCH_BYTES_IN_FLIGHT'],
      message: `must be at least SHARDSYNC_PRODUCER_BATCH_MAX_BYTES (${env.SHARDSYNC_PRODUCER_BATCH_MAX_BYTES}): a batch of the largest size accepted could never be admitted`,
    });
  }
});

export type ProducerEnv = z.output<typeof producerEnvSchema>;

/**
 * The clock lease window the producer uses: SHARDSYNC_PRODUCER_CLOCK_LEASE_WINDOW_MS, else 10 s,
 * or half of SHARDSYNC_MAX_CLOCK_DRIFT_MS when that is less (a deployment with a tight drift
 * limit gets a window that fits it without having to set one).
 */
export function clockLeaseWindowMs(env: Pick<ProducerEnv, 'SHARDSYNC_PRODUCER_CLOCK_LEASE_WINDOW_MS' | 'SHARDSYNC_MAX_CLOCK_DRIFT_MS'>): number {
  return env.SHARDSYNC_PRODUCER_CLOCK_LEASE_WINDOW_MS ?? Math.min(DEFAULT_CLOCK_LEASE_WINDOW_MS, Math.floor(env.SHARDSYNC_MAX_CLOCK_DRIFT_MS / 2));
}

/**
 * The id of a producer started without `SHARDSYNC_PRODUCER_ID`: host, pid and a random part, so
 * no two runs share one. Such a producer keeps no clock lease: a lease keyed by an id that no
 * later run uses would protect nothing, and nothing would ever delete it.
 */
export function generatedProducerId(): string {
  return `${hostname().slice(0, 32)}-${process.pid}-${randomBytes(3).toString('hex')}`;
}
