import { describe, expect, it } from 'vitest';
import { reconcilerEnvSchema } from '../src/env.js';

describe('reconcilerEnvSchema', () => {
  it('has documented defaults', () => {
    const env = reconcilerEnvSchema.parse({});
    expect(env).toMatchObject({
      SHARDSYNC_RECONCILER_PORT: 18100,
      SHARDSYNC_RECONCILER_INTERVAL_MS: 600_000,
      SHARDSYNC_RECONCILER_DEEP_INTERVAL_MS: 0,
      SHARDSYNC_RECONCILER_DATASETS: [],
      SHARDSYNC_RECONCILER_SCHEDULE: true,
      SHARDSYNC_RECONCILER_SCHEDULE_CHECK_MS: 60_000,
      SHARDSYNC_RECONCILER_DEFER_MS: 30_000,
      SHARDSYNC_RECONCILER_DRY_RUN: false,
      SHARDSYNC_RECONCILER_UNMANAGED: 'report',
      SHARDSYNC_RECONCILER_REDIS_PREFIX: 'shardsync',
      SHARDSYNC_STAGING_GC_INTERVAL_MS: 3_600_000,
      SHARDSYNC_STAGING_RETENTION_MS: 8 * 24 * 3_600_000,
    });
  });

  it('parses lists, numbers and booleans from strings', () => {
    const env = reconcilerEnvSchema.parse({ SHARDSYNC_RECONCILER_DATASETS: 'models, training-data,', SHARDSYNC_RECONCILER_CONCURRENCY: '12', SHARDSYNC_RECONCILER_DRY_RUN: 'true' });
    expect(env.SHARDSYNC_RECONCILER_DATASETS).toEqual(['models', 'training-data']);
    expect(env.SHARDSYNC_RECONCILER_CONCURRENCY).toBe(12);
    expect(env.SHARDSYNC_RECONCILER_DRY_RUN).toBe(true);
  });

  it('refuses a deep interval shorter than the routine one', () => {
    const result = reconcilerEnvSchema.safeParse({ SHARDSYNC_RECONCILER_INTERVAL_MS: '60000', SHARDSYNC_RECONCILER_DEEP_INTERVAL_MS: '1000' });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['SHARDSYNC_RECONCILER_DEEP_INTERVAL_MS']);
  });

  it('refuses an interval that a tombstone could outlive a missed delete in', () => {
    const result = reconcilerEnvSchema.safeParse({ SHARDSYNC_RECONCILER_INTERVAL_MS: String(5 * 24 * 3600 * 1000) });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toMatch(/twice per tombstone grace period/);
  });

  it('refuses a staging retention shorter than the tombstone grace, and a collection interval below a second', () => {
    const short = reconcilerEnvSchema.safeParse({ SHARDSYNC_STAGING_RETENTION_MS: String(24 * 3600 * 1000) });
    expect(short.error?.issues.map((i) => [i.path, i.message])).toEqual([[['SHARDSYNC_STAGING_RETENTION_MS'], expect.stringMatching(/at least as long as tombstones/)]]);
    expect(reconcilerEnvSchema.safeParse({ SHARDSYNC_STAGING_GC_INTERVAL_MS: '10' }).success).toBe(false);
    expect(reconcilerEnvSchema.parse({ SHARDSYNC_STAGING_GC_INTERVAL_MS: '0' }).SHARDSYNC_STAGING_GC_INTERVAL_MS).toBe(0);
  });

  it('refuses a Redis prefix with a colon, which BullMQ would split on', () => {
    expect(reconcilerEnvSchema.safeParse({ SHARDSYNC_RECONCILER_REDIS_PREFIX: 'a:b' }).success).toBe(false);
  });
});

describe('reconciler durations put on a timer', () => {
  // Node fires a timer longer than 2^31-1 ms after 1 ms: the shutdown would end (and cut running jobs) at once.
  it('refuses SHARDSYNC_SHUTDOWN_GRACE_MS beyond the longest delay a timer holds, naming it', () => {
    const result = reconcilerEnvSchema.safeParse({ SHARDSYNC_SHUTDOWN_GRACE_MS: String(2 ** 31) });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toContain('SHARDSYNC_SHUTDOWN_GRACE_MS');
    expect(reconcilerEnvSchema.safeParse({ SHARDSYNC_SHUTDOWN_GRACE_MS: String(2 ** 31 - 1) }).success).toBe(true);
  });
});
