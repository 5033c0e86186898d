import { z } from 'zod';
import { MAX_TIMER_MESSAGE, MAX_TIMER_MS } from '@shardsync/config';

const MiB = 1024 * 1024;
const bool = (fallback: 'true' | 'false') =>
  z
    .enum(['true', 'false'])
    .default(fallback)
    .transform((v) => v === 'true');

/** The reconciler's environment, parsed once at start (README "Configuration reference"). */
export const reconcilerEnvSchema = z
  .object({
    /** Interface and port of /healthz, /readyz and /metrics. */
    SHARDSYNC_RECONCILER_HOST: z.string().default('127.0.0.1'),
    SHARDSYNC_RECONCILER_PORT: z.coerce.number().int().min(0).max(65535).default(18100),
    /** Time between two routine passes of a dataset. Default 10 min. */
    SHARDSYNC_RECONCILER_INTERVAL_MS: z.coerce.number().int().min(1000).default(10 * 60 * 1000),
    /** Time between two deep passes (bodies re-read and hashed) of a dataset; 0 = never. Default 0. */
    SHARDSYNC_RECONCILER_DEEP_INTERVAL_MS: z.coerce.number().int().min(0).default(0),
    /** Read budget of a deep pass over all datacenters, in bytes per second. Default 100 MiB/s. */
    SHARDSYNC_RECONCILER_DEEP_BYTES_PER_SECOND: z.coerce.number().int().positive().default(100 * MiB),
    /** Comma-separated datasets to reconcile; empty = every dataset of the topology. */
    SHARDSYNC_RECONCILER_DATASETS: z
      .string()
      .default('')
      .transform((s) => s.split(',').map((d) => d.trim()).filter((d) => d !== '')),
    /** Whether this instance keeps the pass schedules up to date (every instance may; there is still one schedule per dataset). Default true. */
    SHARDSYNC_RECONCILER_SCHEDULE: bool('true'),
    /**
     * Time between two checks that the schedules this instance keeps still advance (a schedule
     * whose due job was picked up this long ago without a next job is restored). Default 1 min.
     */
    SHARDSYNC_RECONCILER_SCHEDULE_CHECK_MS: z.coerce.number().int().min(100).max(MAX_TIMER_MS, MAX_TIMER_MESSAGE).default(60_000),
    /** Jobs (passes, key ranges, key repairs) this instance runs at the same time. Default 4. */
    SHARDSYNC_RECONCILER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(4),
    /** Divergent keys one range job reads and repairs at the same time. Default 8. */
    SHARDSYNC_RECONCILER_KEY_CONCURRENCY: z.coerce.number().int().min(1).max(1024).default(8),
    /** Divergent keys per range job; a pass with more is shared among workers. Default 500. */
    SHARDSYNC_RECONCILER_KEYS_PER_RANGE: z.coerce.number().int().min(1).max(100_000).default(500),
    /**
     * Time a deep pass that found its dataset's pass lock taken waits before trying again (it is
     * deferred, not skipped, for up to one deep interval). Default 30 s.
     */
    SHARDSYNC_RECONCILER_DEFER_MS: z.coerce.number().int().min(100).max(MAX_TIMER_MS, MAX_TIMER_MESSAGE).default(30_000),
    /** Attempts of a key repair that failed with a retriable error (store down, key kept changing). Default 5. */
    SHARDSYNC_RECONCILER_REPAIR_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(5),
    /** First delay of a repair's exponential backoff. Default 5 s. */
    SHARDSYNC_RECONCILER_REPAIR_BACKOFF_MS: z.coerce.number().int().min(1).default(5000),
    /** Report but do not repair (scheduled passes are dry runs). Default false. */
    SHARDSYNC_RECONCILER_DRY_RUN: bool('false'),
    /** Objects without shardsync metadata and no known version: `report` (default), `adopt` or `remove`. */
    SHARDSYNC_RECONCILER_UNMANAGED: z.enum(['report', 'adopt', 'remove']).default('report'),
    /** Must equal the consumers' SHARDSYNC_TOMBSTONE_GRACE_MS. Default 7 days. */
    SHARDSYNC_TOMBSTONE_GRACE_MS: z.coerce.number().int().positive().default(7 * 24 * 3600 * 1000),
    /** Time between two collections of the bodies staged in each datacenter; 0 = never. Default 1 h. */
    SHARDSYNC_STAGING_GC_INTERVAL_MS: z.coerce
      .number()
      .int()
      .min(0)
      .refine((ms) => ms === 0 || ms >= 1000, 'use 0 (never) or at least 1000 ms')
      .default(3600 * 1000),
    /**
     * Staged bodies older than this are deleted; at least SHARDSYNC_TOMBSTONE_GRACE_MS. Default 8
     * days: a day beyond the default grace, because a body's age counts from its upload (for a
     * multipart upload, possibly from its start) and its event's from the version stamped after the
     * upload ended, so an event `dlq replay` still sends within the grace must find its body.
     */
    SHARDSYNC_STAGING_RETENTION_MS: z.coerce.number().int().positive().default(8 * 24 * 3600 * 1000),
    /** Prefix of every Redis key (BullMQ queue and pass history); lets several deployments share a Redis. Default `shardsync`. */
    SHARDSYNC_RECONCILER_REDIS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits, ".", "_" and "-" (no ":")')
      .default('shardsync'),
    /** Pass reports kept per dataset. Default 50. */
    SHARDSYNC_RECONCILER_HISTORY_LENGTH: z.coerce.number().int().min(1).max(10_000).default(50),
    /** Time allowed to finish running jobs on SIGTERM; unfinished ones are retried by another instance. Default 30 s. */
    SHARDSYNC_SHUTDOWN_GRACE_MS: z.coerce.number().int().positive().max(MAX_TIMER_MS, MAX_TIMER_MESSAGE).default(30_000),
  })
  .superRefine((env, ctx) => {
    const deep = env.SHARDSYNC_RECONCILER_DEEP_INTERVAL_MS;
    if (deep !== 0 && deep < env.SHARDSYNC_RECONCILER_INTERVAL_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['SHARDSYNC_RECONCILER_DEEP_INTERVAL_MS'],
        message: `a deep pass re-reads every byte; run it less often than routine passes (${env.SHARDSYNC_RECONCILER_INTERVAL_MS} ms), or set 0 to disable it`,
      });
    }
    if (env.SHARDSYNC_TOMBSTONE_GRACE_MS < 2 * env.SHARDSYNC_RECONCILER_INTERVAL_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['SHARDSYNC_RECONCILER_INTERVAL_MS'],
        message: 'passes must run at least twice per tombstone grace period, or a missed delete can outlive its tombstone and be resurrected',
      });
    }
    if (env.SHARDSYNC_STAGING_RETENTION_MS < env.SHARDSYNC_TOMBSTONE_GRACE_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['SHARDSYNC_STAGING_RETENTION_MS'],
        message: `staged bodies must be kept at least as long as tombstones (${env.SHARDSYNC_TOMBSTONE_GRACE_MS} ms), which outlive the topic's retention: an event still in Kafka may need its body`,
      });
    }
  });

export type ReconcilerEnv = z.output<typeof reconcilerEnvSchema>;
