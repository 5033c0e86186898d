import { describe, expect, it } from 'vitest';
import { formatIssues } from '@shardsync/config';
import { consumerEnvSchema } from '../src/env.js';

const required = { SHARDSYNC_DATACENTER: 'dc-b' };

describe('consumer durations put on a timer', () => {
  // Node fires a timer longer than 2^31-1 ms after 1 ms: such a value would sweep tombstones back to back, or end the shutdown at once.
  it.each(['SHARDSYNC_TOMBSTONE_SWEEP_INTERVAL_MS', 'SHARDSYNC_SHUTDOWN_GRACE_MS'])('refuses %s beyond the longest delay a timer holds, naming it', (variable) => {
    const result = consumerEnvSchema.safeParse({ ...required, [variable]: String(2 ** 31) });
    expect(result.success).toBe(false);
    expect(formatIssues(result.error?.issues ?? []).join('; ')).toContain(`${variable}: `);
    expect(consumerEnvSchema.safeParse({ ...required, [variable]: String(2 ** 31 - 1) }).success).toBe(true);
  });
});

describe('SHARDSYNC_CONSUMER_STALL_MS', () => {
  // The watchdog checks at most once a second: a shorter allowance cannot be checked, and at each
  // check finds a consumer that is busy applying idle (1 ms would flag every healthy consumer).
  it.each(['1', '999'])('refuses %s ms, naming the variable and the bound', (value) => {
    const result = consumerEnvSchema.safeParse({ ...required, SHARDSYNC_CONSUMER_STALL_MS: value });
    expect(result.success).toBe(false);
    expect(formatIssues(result.error?.issues ?? []).join('; ')).toMatch(/^SHARDSYNC_CONSUMER_STALL_MS: must be at least 1000 ms/);
  });

  it('accepts the bound itself and the default', () => {
    expect(consumerEnvSchema.parse({ ...required, SHARDSYNC_CONSUMER_STALL_MS: '1000' }).SHARDSYNC_CONSUMER_STALL_MS).toBe(1000);
    expect(consumerEnvSchema.parse(required).SHARDSYNC_CONSUMER_STALL_MS).toBe(300_000);
  });
});
