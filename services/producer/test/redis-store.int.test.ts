import { testRedis, uniqueName } from '@shardsync/testing';
import { describe, expect, it, onTestFinished } from 'vitest';
import { RedisIdempotencyStore } from '../src/idempotency/redis-store.js';
import { CLAIM_TTL_MS, type ClaimRef, type CompleteOutcome, type IdempotentResult } from '../src/idempotency/store.js';

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

/** The one Redis key a store under `prefix` has written. */
async function onlyKey(redis: ReturnType<typeof testRedis>, prefix: string): Promise<string> {
  const [key, ...others] = await redis.keys(`${prefix}*`);
  if (key === undefined || others.length > 0) throw new Error(`expected one key under ${prefix}, found ${others.length + (key === undefined ? 0 : 1)}`);
  return key;
}

/** A request's claim of `key`: each call is another request (another owner). */
let requests = 0;
function request(key: string, scope = 'tests'): ClaimRef {
  requests += 1;
  return { scope, key, owner: `request-${requests}` };
}

/** Records one answer, as a request finishing alone in its event-loop turn does. */
async function complete(store: RedisIdempotencyStore, claim: ClaimRef, result: IdempotentResult, ttlMs: number): Promise<CompleteOutcome | Error | undefined> {
  return (await store.completeAll([{ claim, result }], ttlMs))[0];
}

const answer = (eventId: string) => ({ fingerprint: 'PUT ds/k', status: 202, body: { eventId } });

describe('RedisIdempotencyStore', () => {
  it('claims made together each get the answer SET NX would give: claimed, in progress or the stored result', async () => {
    const store = testStore();
    const result = answer('e-1');
    const done = request('done');
    expect(await store.claim(done, 60_000)).toEqual({ kind: 'claimed' });
    await complete(store, done, result, 60_000);
    expect(await store.claim(request('running'), 60_000)).toEqual({ kind: 'claimed' });

    const together = await Promise.all([
      store.claim(request('fresh'), 60_000),
      store.claim(request('running'), 60_000),
      store.claim(request('done'), 60_000),
      store.claim(request('done', 'other-token'), 60_000),
      store.claim(request('twice'), 60_000),
      store.claim(request('twice'), 60_000),
    ]);
    expect(together).toEqual([{ kind: 'claimed' }, { kind: 'in-progress' }, { kind: 'done', result }, { kind: 'claimed' }, { kind: 'claimed' }, { kind: 'in-progress' }]);
  });

  it('answers recorded together each get their own outcome and only the recordable ones are written', async () => {
    const { redis, prefix, store } = testSetup();
    const ours = request('ours');
    await store.claim(ours, 60_000);
    const kept = request('kept');
    await store.claim(kept, 60_000);
    await complete(store, kept, answer('e-first'), 60_000);
    const takenOver = request('taken-over');
    await store.claim(takenOver, 60_000);

    const together = await store.completeAll(
      [
        { claim: ours, result: answer('e-ours') },
        { claim: request('free'), result: answer('e-free') },
        { claim: request('kept'), result: answer('e-second') },
        { claim: request('taken-over'), result: answer('e-late') },
      ],
      60_000,
    );
    expect(together).toEqual(['recorded', 'claim-expired', 'answer-kept', 'replaced-claim']);
    const stored = await Promise.all(['ours', 'free', 'kept', 'taken-over'].map(async (k) => (await store.claim(request(k), 60_000)).kind === 'done'));
    expect(stored).toEqual([true, true, true, true]);
    expect(await store.claim(request('kept'), 60_000)).toEqual({ kind: 'done', result: answer('e-first') });
    expect((await redis.keys(`${prefix}*`)).length).toBe(4);
  });

  it('a request that claims again with its own owner (its first reply lost) has the key, another request gets in progress', async () => {
    const store = testStore();
    const first = request('k');
    expect(await store.claim(first, 60_000)).toEqual({ kind: 'claimed' });
    const [again, other] = await Promise.all([store.claim(first, 60_000), store.claim(request('k'), 60_000)]);
    expect(again).toEqual({ kind: 'claimed' });
    expect(other).toEqual({ kind: 'in-progress' });
  });

  it('a claim written by a producer before owner tokens (a bare "pending") reads as in progress and is left alone', async () => {
    const { redis, prefix, store } = testSetup();
    const mine = request('k');
    await store.claim(mine, 60_000);
    const key = await onlyKey(redis, prefix);
    await redis.set(key, 'pending', 'PX', 60_000);
    expect(await store.claim(request('k'), 60_000)).toEqual({ kind: 'in-progress' });
    expect(await store.release(mine)).toBe(false);
    expect(await store.extend(mine)).toBe(false);
    expect(await redis.get(key)).toBe('pending');
  });

  it('an unreadable record fails its own claim only, not the others made with it', async () => {
    const { redis, prefix, store } = testSetup();
    await store.claim(request('broken'), 60_000);
    await redis.set(await onlyKey(redis, prefix), 'not json');
    const [broken, fresh] = await Promise.allSettled([store.claim(request('broken'), 60_000), store.claim(request('fresh'), 60_000)]);
    expect(broken).toMatchObject({ status: 'rejected', reason: { code: 'SHARDSYNC_IDEMPOTENCY_RECORD_UNREADABLE', retriable: false } });
    expect(fresh).toEqual({ status: 'fulfilled', value: { kind: 'claimed' } });
  });

  it('a released claim can be claimed again, a completed answer is never released', async () => {
    const store = testStore();
    const first = request('k');
    await store.claim(first, 60_000);
    expect(await store.release(first)).toBe(true);
    const second = request('k');
    expect(await store.claim(second, 60_000)).toEqual({ kind: 'claimed' });
    await complete(store, second, answer('e-2'), 60_000);
    expect(await store.release(second)).toBe(false);
    expect((await store.claim(request('k'), 60_000)).kind).toBe('done');
  });

  it("a request whose claim expired cannot release the claim another request made since", async () => {
    const { redis, prefix, store } = testSetup();
    const stale = request('k');
    await store.claim(stale, 60_000);
    await redis.del(await onlyKey(redis, prefix)); // the claim expired
    const current = request('k');
    expect(await store.claim(current, 60_000)).toEqual({ kind: 'claimed' });
    expect(await store.release(stale)).toBe(false);
    expect(await store.claim(request('k'), 60_000)).toEqual({ kind: 'in-progress' });
  });

  it('extending our pending claim renews its lifetime; a recorded answer keeps its own', async () => {
    const { redis, prefix, store } = testSetup();
    const mine = request('k');
    await store.claim(mine, 60 * 60_000);
    const key = await onlyKey(redis, prefix);
    await redis.pexpire(key, 1000);
    expect(await store.extend(mine)).toBe(true);
    expect(await redis.pttl(key)).toBeGreaterThan(CLAIM_TTL_MS - 10_000);
    await complete(store, mine, answer('e-1'), 30_000);
    expect(await store.extend(mine)).toBe(false);
    expect(await redis.pttl(key)).toBeLessThanOrEqual(30_000);
    expect((await store.claim(request('k'), 60_000)).kind).toBe('done');
  });

  it("a request whose claim expired cannot extend the claim another request made since", async () => {
    const { redis, prefix, store } = testSetup();
    const stale = request('k');
    await store.claim(stale, 60_000);
    await redis.del(await onlyKey(redis, prefix));
    await store.claim(request('k'), 1000);
    expect(await store.extend(stale)).toBe(false);
    expect(await redis.pttl(await onlyKey(redis, prefix))).toBeLessThanOrEqual(1000);
  });

  it('an answer is recorded over our own claim, and recording it again (a lost reply) is not a conflict', async () => {
    const store = testStore();
    const mine = request('k');
    await store.claim(mine, 60_000);
    expect(await complete(store, mine, answer('e-1'), 60_000)).toBe('recorded');
    expect(await complete(store, mine, answer('e-1'), 60_000)).toBe('recorded');
    expect(await store.claim(request('k'), 60_000)).toEqual({ kind: 'done', result: answer('e-1') });
  });

  it('an answer whose claim expired and whose key nobody claimed since is recorded', async () => {
    const { redis, prefix, store } = testSetup();
    const stale = request('k');
    await store.claim(stale, 60_000);
    await redis.del(await onlyKey(redis, prefix));
    expect(await complete(store, stale, answer('e-1'), 60_000)).toBe('claim-expired');
    expect(await store.claim(request('k'), 60_000)).toEqual({ kind: 'done', result: answer('e-1') });
  });

  it('an acknowledged answer replaces the claim of a request that took the key over, and the first recorded answer is kept', async () => {
    const { redis, prefix, store } = testSetup();
    const first = request('k');
    const second = request('k');
    await store.claim(first, 60_000);
    await redis.del(await onlyKey(redis, prefix));
    await store.claim(second, 60_000);
    expect(await complete(store, first, answer('e-first'), 60_000)).toBe('replaced-claim');
    // The request that took over finishes later, or fails: the first recorded answer stays.
    expect(await complete(store, second, answer('e-second'), 60_000)).toBe('answer-kept');
    expect(await store.release(second)).toBe(false);
    expect(await store.claim(request('k'), 60_000)).toEqual({ kind: 'done', result: answer('e-first') });
  });

  it('an unsettled answer is stored so older producers read it as in progress, and is settled only while it is still there', async () => {
    const { redis, prefix, store } = testSetup();
    const first = request('unsettled');
    await store.claim(first, 60_000);
    const unsettled: IdempotentResult = { ...answer('e-1'), unsettled: { topic: 't', key: 'ds/k', value: 'AAE=', headers: { h: 'v' } } };
    expect(await complete(store, first, unsettled, 60_000)).toBe('recorded');
    // What a producer from before unsettled answers checks: anything starting with "pending" is a claim (409).
    expect(await redis.get(await onlyKey(redis, prefix))).toMatch(/^pending/);
    expect(await store.claim(request('unsettled'), 60_000)).toEqual({ kind: 'done', result: unsettled });
    expect(await store.settle(first, unsettled, answer('e-1'), 60_000)).toBe(true);
    expect(await store.claim(request('unsettled'), 60_000)).toEqual({ kind: 'done', result: answer('e-1') });
    // Settled already (or answered otherwise since): a late settle changes nothing.
    expect(await store.settle(first, unsettled, answer('e-other'), 60_000)).toBe(false);
    expect(await store.claim(request('unsettled'), 60_000)).toEqual({ kind: 'done', result: answer('e-1') });

    const claimed = request('claimed');
    await store.claim(claimed, 60_000);
    expect(await store.settle(claimed, unsettled, answer('e-2'), 60_000)).toBe(false);
    expect(await store.claim(request('claimed'), 60_000)).toEqual({ kind: 'in-progress' });
    expect(await store.settle(request('nothing'), unsettled, answer('e-3'), 60_000)).toBe(false);
    expect(await store.claim(request('nothing'), 60_000)).toEqual({ kind: 'claimed' });
  });
});
