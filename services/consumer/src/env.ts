import { z } from 'zod';
import { MAX_TIMER_MESSAGE, MAX_TIMER_MS } from '@shardsync/config';
import { MIN_STALL_MS } from './watchdog.js';

/** The consumer's environment, parsed once at start (README "Configuration reference"). */
export const consumerEnvSchema = z.object({
  /** The datacenter whose store this consumer writes; its group is `shardsync.dc.<datacenter>`. */
  SHARDSYNC_DATACENTER: z.string().min(1, 'name the datacenter this consumer applies updates to, e.g. dc-b'),
  /** Interface and port of /healthz, /readyz and /metrics. */
  SHARDSYNC_CONSUMER_HOST: z.string().default('127.0.0.1'),
  SHARDSYNC_CONSUMER_PORT: z.coerce.number().int().min(0).max(65535).default(18090),
  /** Keys of one batch applied at the same time. Default 16. */
  SHARDSYNC_CONSUMER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
  /** Partitions handled at the same time. Default 12. */
  SHARDSYNC_CONSUMER_PARTITIONS_CONCURRENTLY: z.coerce.number().int().min(1).max(1000).default(12),
  /**
   * Referenced payloads (staged or peer copies) transferred at the same time in the process,
   * whatever the partitions and keys in flight: each holds up to a single-put body or a few
   * multipart parts (16-80 MiB at the default part size), so this bounds the memory. Default 8.
   */
  SHARDSYNC_CONSUMER_MAX_TRANSFERS: z.coerce.number().int().min(1).max(256).default(8),
  /**
   * Stores of buckets other than the datacenters' own (sources named by events) kept open at
   * once; the least recently used is closed once nothing runs on it. Default 32.
   */
  SHARDSYNC_CONSUMER_MAX_OTHER_BUCKETS: z.coerce.number().int().min(1).max(10_000).default(32),
  /** How long a tombstone is kept; must exceed the topic's retention so no older put can arrive after it. Default 7 days. */
  SHARDSYNC_TOMBSTONE_GRACE_MS: z.coerce.number().int().positive().default(7 * 24 * 3600 * 1000),
  /**
   * How often expired tombstones are deleted while the consumer group is stable (a rebalance
   * also deletes them). Default: a quarter of the grace period, at most 1 h, at least 1 s
   * ({@link tombstoneSweepIntervalMs}); a tombstone thus outlives its grace by at most this much.
   */
  SHARDSYNC_TOMBSTONE_SWEEP_INTERVAL_MS: z.coerce.number().int().min(1000).max(MAX_TIMER_MS, MAX_TIMER_MESSAGE).optional(),
  /** How long a referenced payload may stay unreadable everywhere before the event is dead-lettered. Default 10 min. */
  SHARDSYNC_SOURCE_WAIT_MS: z.coerce.number().int().positive().default(10 * 60 * 1000),
  /**
   * How long a referenced payload whose only readable source has other bytes (and no peer holds
   * the version) is retried before it is dead-lettered: only a peer copying good bytes at that
   * moment could still serve it. Default 1 min.
   */
  SHARDSYNC_SOURCE_MISMATCH_WAIT_MS: z.coerce.number().int().positive().default(60 * 1000),
  /**
   * Watchdog: no progress for this long while lag grows marks the consumer unhealthy. Default 5 min;
   * at least the watchdog's check interval (1 s). Progress is only reported between requests and
   * retries, so production values should stay above the longest of those a healthy consumer makes
   * (a retry backoff of up to 15 s, a store request of up to 2 min).
   */
  SHARDSYNC_CONSUMER_STALL_MS: z.coerce
    .number()
    .int()
    .min(MIN_STALL_MS, `must be at least ${MIN_STALL_MS} ms: the watchdog checks once a second, so a shorter allowance flags a consumer busy applying as stalled`)
    .default(5 * 60 * 1000),
  /** Exit (for a supervisor to restart) when the watchdog fires. Default true. */
  SHARDSYNC_CONSUMER_EXIT_ON_STALL: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  /** Versions of applied keys remembered to skip a HEAD. Default 100000. */
  SHARDSYNC_CONSUMER_STATE_CACHE_ENTRIES: z.coerce.number().int().min(0).default(100_000),
  /** Time allowed to drain, commit and leave the group on SIGTERM. Default 30 s. */
  SHARDSYNC_SHUTDOWN_GRACE_MS: z.coerce.number().int().positive().max(MAX_TIMER_MS, MAX_TIMER_MESSAGE).default(30_000),
});

export type ConsumerEnv = z.output<typeof consumerEnvSchema>;

/** The tombstone sweep's interval: the configured one, else grace / 4 bounded to [1 s, 1 h]. */
export function tombstoneSweepIntervalMs(env: Pick<ConsumerEnv, 'SHARDSYNC_TOMBSTONE_GRACE_MS' | 'SHARDSYNC_TOMBSTONE_SWEEP_INTERVAL_MS'>): number {
  return env.SHARDSYNC_TOMBSTONE_SWEEP_INTERVAL_MS ?? Math.max(1000, Math.min(Math.floor(env.SHARDSYNC_TOMBSTONE_GRACE_MS / 4), 3600_000));
}
