import { passLockKey } from '@shardsync/reconcile';
import { createTestTopology, testRedis } from '@shardsync/testing';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ReconcileResult } from '../src/index.js';
import { cliJson, keysIn, putManaged, storesOf, v, withPassHistory } from './int-helpers.js';

describe('shardsync reconcile and the pass lock the scheduled passes take', () => {
  it('refuses to repair a dataset whose pass a reconciler job holds, runs a dry run beside it, repairs with --ignore-pass-lock, and holds the lock only while its own pass runs', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const env = withPassHistory(dataset);
    const lockKey = passLockKey(env['SHARDSYNC_RECONCILER_REDIS_PREFIX'] ?? '', dataset);
    const redis = testRedis();
    onTestFinished(async () => {
      await redis.del(lockKey);
    });
    const pool = storesOf(topology);
    for (const dc of ['dc-a', 'dc-b']) await putManaged(pool, dc, dataset, 'k', 'body', v(1000));
    // A scheduled pass job (id 42) comparing this dataset.
    await redis.set(lockKey, '42');

    const refused = await cliJson<{ error: string; message: string; hint: string }>(topology, ['reconcile', '--dataset', dataset], env);
    expect(refused.code).toBe(2);
    expect(refused.json).toMatchObject({ error: 'SHARDSYNC_CLI_CONFLICT', message: `a pass of dataset ${dataset} is already running: the reconciler's pass job 42 holds its pass lock` });
    expect(refused.json.hint).toContain('--ignore-pass-lock');
    expect(await keysIn(pool, 'dc-c', dataset)).toEqual([]);

    const dry = await cliJson<ReconcileResult>(topology, ['reconcile', '--dataset', dataset, '--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(1);
    expect(dry.json.passes[0]?.divergentKeys).toBe(1);

    const forced = await cliJson<ReconcileResult>(topology, ['reconcile', '--dataset', dataset, '--ignore-pass-lock'], env);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await keysIn(pool, 'dc-c', dataset)).toEqual(['k']);
    expect(await redis.get(lockKey)).toBe('42');

    // Free: the CLI's own pass takes the lock (a lease) and gives it back when it is done.
    await redis.del(lockKey);
    await putManaged(pool, 'dc-a', dataset, 'k2', 'more', v(2000));
    const holders = new Set<string | null>();
    const watching = setInterval(() => void redis.get(lockKey).then((h) => holders.add(h)), 5);
    const own = await cliJson<ReconcileResult>(topology, ['reconcile', '--dataset', dataset], env).finally(() => clearInterval(watching));
    expect(own.code, own.stderr).toBe(0);
    expect(own.json.lockWarnings).toBeUndefined();
    expect(await redis.get(lockKey)).toBeNull();
    expect([...holders].some((h) => h?.startsWith('cli:') === true)).toBe(true);
  });
});
