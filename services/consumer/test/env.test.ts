import { describe, expect, it } from 'vitest';
import { consumerEnvSchema } from '../src/env.js';

/** Node runs a timer whose delay exceeds this after 1 ms instead (TimeoutOverflowWarning). */
const TIMER_MAX_MS = 2 ** 31 - 1;

describe('consumer environment', () => {
  it.each(['SHARDSYNC_TOMBSTONE_SWEEP_INTERVAL_MS', 'SHARDSYNC_SHUTDOWN_GRACE_MS'])(
    'refuses a %s beyond what a Node timer can wait, which would fire after 1 ms',
    (name) => {
      const parsed = consumerEnvSchema.safeParse({ SHARDSYNC_DATACENTER: 'dc-b', [name]: String(30 * 24 * 3600 * 1000) });
      expect(parsed.success).toBe(false);
      expect(consumerEnvSchema.safeParse({ SHARDSYNC_DATACENTER: 'dc-b', [name]: String(TIMER_MAX_MS) }).success).toBe(true);
    },
  );
});
