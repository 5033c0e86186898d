import { testRedis } from '@shardsync/testing';
import { describe, expect, it } from 'vitest';
import { createPassLock } from '../src/jobs/pass-lock.js';
import { testPrefix } from './helpers.js';

describe('pass lock (real Redis)', () => {
  it('lets exactly one of many passes of a dataset that start together run; the others learn which one', async () => {
    const lock = createPassLock(testRedis(), testPrefix(), async () => true);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => lock.claim('models', `job-${i}`)));
    const winners = answers.map((a, i) => (a === undefined ? `job-${i}` : undefined)).filter((w) => w !== undefined);
    expect(winners).toHaveLength(1);
    expect(new Set(answers.filter((a) => a !== undefined))).toEqual(new Set(winners));
  });

  it('is held per dataset, again by its own holder (a retried attempt), and free for the next pass once released', async () => {
    const lock = createPassLock(testRedis(), testPrefix(), async () => true);
    expect(await lock.claim('models', 'a')).toBeUndefined();
    expect(await lock.claim('datasets', 'b')).toBeUndefined();
    expect(await lock.claim('models', 'a')).toBeUndefined();
    expect(await lock.claim('models', 'c')).toBe('a');
    await lock.release('models', 'c'); // not the holder: nothing happens
    expect(await lock.claim('models', 'c')).toBe('a');
    await lock.release('models', 'a');
    expect(await lock.claim('models', 'c')).toBeUndefined();
  });

  it('is taken over from a holder that no longer runs, by exactly one of the passes that find it so', async () => {
    const lock = createPassLock(testRedis(), testPrefix(), async (id) => id !== 'crashed');
    expect(await lock.claim('models', 'crashed')).toBeUndefined();
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => lock.claim('models', `next-${i}`)));
    const winners = answers.flatMap((a, i) => (a === undefined ? [`next-${i}`] : []));
    expect(winners).toHaveLength(1);
    expect(answers.filter((a) => a !== undefined && a !== winners[0])).toEqual([]);
    expect(await lock.claim('models', 'later')).toBe(winners[0]);
  });
});
