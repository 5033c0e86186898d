import { testRedis, uniqueName } from '@shardsync/testing';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CLAIM_TTL_MS, RedisIdempotencyStore } from '../src/idempotency/redis-store.js';

/** A store under a prefix of its own, with the Redis connection and prefix for raw checks; its keys are removed after the test. */
function testSetup(): { redis: ReturnType<typeof testRedis>; prefix: string; store: RedisIdempotencyStore } {
  const redis = testRedis();
  const prefix = `${uniqueName('idem')}:`;
  onTestFinished(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  });
  return { redis, prefix, store: new RedisIdempotencyStore(redis, prefix) };
}

function testStore(): RedisIdempotencyStore {
  return testSetup().store;
}

describe('RedisIdempotencyStore', () => {
  it('claims made together each get the answer SET NX would give: claimed, in progress or the stored result', async () => {
    const store = testStore();
    const result = { fingerprint: 'PUT ds/a', status: 202, body: { eventId: 'e-1' } };
    expect(await store.claim('tests', 'done', 60_000)).toEqual({ kind: 'claimed' });
    await store.complete('tests', 'done', result, 60_000);
    expect(await store.claim('tests', 'running', 60_000)).toEqual({ kind: 'claimed' });

    const together = await Promise.all([
      store.claim('tests', 'fresh', 60_000),
      store.claim('tests', 'running', 60_000),
      store.claim('tests', 'done', 60_000),
      store.claim('other-token', 'done', 60_000),
      store.claim('tests', 'twice', 60_000),
      store.claim('tests', 'twice', 60_000),
    ]);
    expect(together).toEqual([{ kind: 'claimed' }, { kind: 'in-progress' }, { kind: 'done', result }, { kind: 'claimed' }, { kind: 'claimed' }, { kind: 'in-progress' }]);
  });

  it('an unreadable record fails its own claim only, not the others made with it', async () => {
    const { redis, prefix, store } = testSetup();
    await store.claim('tests', 'broken', 60_000);
    const [brokenKey] = await redis.keys(`${prefix}*`);
    await redis.set(brokenKey ?? '', 'not json');
    const [broken, fresh] = await Promise.allSettled([store.claim('tests', 'broken', 60_000), store.claim('tests', 'fresh', 60_000)]);
    expect(broken.status).toBe('rejected');
    expect(fresh).toEqual({ status: 'fulfilled', value: { kind: 'claimed' } });
  });

  it('a released claim can be claimed again, a completed answer is never released', async () => {
    const store = testStore();
    await store.claim('tests', 'k', 60_000);
    await store.release('tests', 'k');
    expect(await store.claim('tests', 'k', 60_000)).toEqual({ kind: 'claimed' });
    await store.complete('tests', 'k', { fingerprint: 'f', status: 202, body: {} }, 60_000);
    await store.release('tests', 'k');
    expect((await store.claim('tests', 'k', 60_000)).kind).toBe('done');
  });

  it('extending a pending claim renews its lifetime; a recorded answer keeps its own', async () => {
    const { redis, prefix, store } = testSetup();
    await store.claim('tests', 'k', 60 * 60_000);
    const [key] = await redis.keys(`${prefix}*`);
    if (key === undefined) throw new Error('the claim wrote no key');
    await redis.pexpire(key, 1000);
    await store.extend('tests', 'k');
    expect(await redis.pttl(key)).toBeGreaterThan(CLAIM_TTL_MS - 10_000);
    await store.complete('tests', 'k', { fingerprint: 'f', status: 202, body: {} }, 30_000);
    await store.extend('tests', 'k');
    expect(await redis.pttl(key)).toBeLessThanOrEqual(30_000);
    expect((await store.claim('tests', 'k', 60_000)).kind).toBe('done');
  });
});
