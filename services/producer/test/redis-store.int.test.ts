import { testRedis, uniqueName } from '@shardsync/testing';
import { describe, expect, it, onTestFinished } from 'vitest';
import { RedisIdempotencyStore } from '../src/idempotency/redis-store.js';

function testStore(): RedisIdempotencyStore {
  const redis = testRedis();
  const prefix = `${uniqueName('idem')}:`;
  onTestFinished(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  });
  return new RedisIdempotencyStore(redis, prefix);
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
    const redis = testRedis();
    const prefix = `${uniqueName('idem')}:`;
    onTestFinished(async () => {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    });
    const store = new RedisIdempotencyStore(redis, prefix);
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
});
