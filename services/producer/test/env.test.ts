import { describe, expect, it } from 'vitest';
import { formatIssues, parseEnv } from '@shardsync/config';
import { clockLeaseWindowMs, producerEnvSchema } from '../src/env.js';
import { CLAIM_TTL_MS } from '../src/idempotency/store.js';
import { CLAIM_REFRESH_MS } from '../src/ingest/idempotency.js';

const required = { SHARDSYNC_DATACENTER: 'dc-a', SHARDSYNC_PRODUCER_TOKENS: 'tests:test-token-0123456789abcdef:*' };

describe('producerEnvSchema', () => {
  it('refuses an Idempotency-Key memory shorter than a claim lives, since a claim would expire before its first extension', () => {
    const result = producerEnvSchema.safeParse({ ...required, SHARDSYNC_PRODUCER_IDEMPOTENCY_TTL_MS: String(CLAIM_REFRESH_MS / 2) });
    expect(result.success).toBe(false);
    expect(formatIssues(result.error?.issues ?? []).join('; ')).toMatch(/SHARDSYNC_PRODUCER_IDEMPOTENCY_TTL_MS.*at least 300000 ms.*extended every 60000 ms/);
    expect(producerEnvSchema.safeParse({ ...required, SHARDSYNC_PRODUCER_IDEMPOTENCY_TTL_MS: String(CLAIM_TTL_MS - 1) }).success).toBe(false);
  });

  it('accepts an Idempotency-Key memory as long as a claim lives, and defaults to a day', () => {
    expect(producerEnvSchema.parse({ ...required, SHARDSYNC_PRODUCER_IDEMPOTENCY_TTL_MS: String(CLAIM_TTL_MS) }).SHARDSYNC_PRODUCER_IDEMPOTENCY_TTL_MS).toBe(CLAIM_TTL_MS);
    expect(producerEnvSchema.parse(required).SHARDSYNC_PRODUCER_IDEMPOTENCY_TTL_MS).toBe(24 * 3600 * 1000);
  });

  it("refuses a clock lease window over half the drift limit, since a restarted producer's versions lie up to one window ahead", () => {
    const result = producerEnvSchema.safeParse({ ...required, SHARDSYNC_PRODUCER_CLOCK_LEASE_WINDOW_MS: '40000' });
    expect(result.success).toBe(false);
    expect(formatIssues(result.error?.issues ?? []).join('; ')).toMatch(/SHARDSYNC_PRODUCER_CLOCK_LEASE_WINDOW_MS.*at most half of SHARDSYNC_MAX_CLOCK_DRIFT_MS \(60000 ms\)/);
  });

  it('refuses a clock lease window under a second, since the bound is rewritten every half window', () => {
    const result = producerEnvSchema.safeParse({ ...required, SHARDSYNC_PRODUCER_CLOCK_LEASE_WINDOW_MS: '500' });
    expect(formatIssues(result.error?.issues ?? []).join('; ')).toMatch(/SHARDSYNC_PRODUCER_CLOCK_LEASE_WINDOW_MS.*at least 1000 ms/);
  });

  it('takes a clock lease window up to half the drift limit; unset, 10 s or half a tighter drift limit', () => {
    expect(clockLeaseWindowMs(producerEnvSchema.parse({ ...required, SHARDSYNC_PRODUCER_CLOCK_LEASE_WINDOW_MS: '40000', SHARDSYNC_MAX_CLOCK_DRIFT_MS: '80000' }))).toBe(40_000);
    expect(clockLeaseWindowMs(producerEnvSchema.parse(required))).toBe(10_000);
    expect(clockLeaseWindowMs(producerEnvSchema.parse({ ...required, SHARDSYNC_MAX_CLOCK_DRIFT_MS: '15000' }))).toBe(7_500);
  });
});

describe('producer durations put on a timer', () => {
  // Node fires a timer longer than 2^31-1 ms after 1 ms: such a value would time out every request body at once, or end the shutdown at once.
  it.each(['SHARDSYNC_PRODUCER_BODY_IDLE_TIMEOUT_MS', 'SHARDSYNC_SHUTDOWN_GRACE_MS'])('refuses %s beyond the longest delay a timer holds, naming it', (variable) => {
    const result = producerEnvSchema.safeParse({ ...required, [variable]: String(2 ** 31) });
    expect(result.success).toBe(false);
    expect(formatIssues(result.error?.issues ?? []).join('; ')).toContain(`${variable}: `);
    expect(producerEnvSchema.safeParse({ ...required, [variable]: String(2 ** 31 - 1) }).success).toBe(true);
  });
});

describe('parseEnv on the producer environment', () => {
  // An empty variable (\`SHARDSYNC_PRODUCER_PORT=\` in a compose file or unit) is coerced by Number('') to 0: a random port.
  it('treats a variable set to the empty string as unset, so its default applies instead of 0', () => {
    expect(parseEnv(producerEnvSchema, { ...required, SHARDSYNC_PRODUCER_PORT: '' }, 'producer').SHARDSYNC_PRODUCER_PORT).toBe(18080);
    expect(parseEnv(producerEnvSchema, { ...required, SHARDSYNC_PRODUCER_MAX_UPLOADS: '' }, 'producer').SHARDSYNC_PRODUCER_MAX_UPLOADS).toBe(4);
  });

  it('still names a required variable set to the empty string', () => {
    expect(() => parseEnv(producerEnvSchema, { ...required, SHARDSYNC_DATACENTER: '' }, 'producer')).toThrow(/SHARDSYNC_DATACENTER: /);
  });
});
