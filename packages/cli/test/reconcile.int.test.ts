import { objectKeyOf } from '@shardsync/events';
import { lastPassSummary } from '@shardsync/reconcile';
import { createTestTopology, testRedis, uniqueName } from '@shardsync/testing';
import { describe, expect, it } from 'vitest';
import { historyOptions, runCli, type BootstrapResult, type ReconcileResult } from '../src/index.js';
import { cliJson, keysIn, putManaged, putTombstone, storesOf, v, withPassHistory } from './int-helpers.js';
import { cli, writeTopology } from './helpers.js';

describe('shardsync reconcile and bootstrap', () => {
  it('fills an empty datacenter from its peers after a dry run that changed nothing, and a second bootstrap copies nothing', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const env = withPassHistory(dataset);
    const pool = storesOf(topology);
    const keys = ['a', 'b', 'c', 'd/e'];
    for (const dc of ['dc-a', 'dc-b']) for (const [i, key] of keys.entries()) await putManaged(pool, dc, dataset, key, `body of ${key}`, v(1000 + i));

    const dry = await cliJson<ReconcileResult>(topology, ['reconcile', '--dataset', dataset, '--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(1);
    expect(dry.json.converged).toBe(false);
    expect(dry.json.passes[0]?.perDatacenter.find((c) => c.datacenter === 'dc-c')?.missing).toBe(4);
    expect(await keysIn(pool, 'dc-c', dataset)).toEqual([]);

    const filled = await cliJson<BootstrapResult>(topology, ['bootstrap', '--datacenter', 'dc-c'], env);
    expect(filled.code, filled.stderr).toBe(0);
    expect(filled.json).toMatchObject({ datacenter: 'dc-c', complete: true, repaired: 4 });
    expect(await keysIn(pool, 'dc-c', dataset)).toEqual(keys);

    const again = await cliJson<BootstrapResult>(topology, ['bootstrap', '--datacenter', 'dc-c'], env);
    expect(again.code).toBe(0);
    expect(again.json.repaired).toBe(0);
  });

  it('repairs only the datacenter asked for and exits 1 while others still diverge, then 0 once all agree', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const env = withPassHistory(dataset);
    const pool = storesOf(topology);
    for (const dc of ['dc-a', 'dc-b', 'dc-c']) await putManaged(pool, dc, dataset, 'k', 'old', v(1000));
    await putManaged(pool, 'dc-a', dataset, 'k', 'new', v(2000));

    const one = await cliJson<ReconcileResult>(topology, ['reconcile', '--dataset', dataset, '--datacenter', 'dc-c'], env);
    expect(one.code, one.stderr).toBe(1);
    const counts = one.json.passes[0]?.perDatacenter;
    expect(counts?.find((c) => c.datacenter === 'dc-c')).toMatchObject({ stale: 1, repaired: 1 });
    expect(counts?.find((c) => c.datacenter === 'dc-b')).toMatchObject({ stale: 1, repaired: 0, notRepaired: 1 });

    const all = await cliJson<ReconcileResult>(topology, ['reconcile', '--dataset', dataset], env);
    expect(all.code).toBe(0);
    expect(all.json.converged).toBe(true);
  });

  it("copies tombstones within the consumers' grace period, as SHARDSYNC_TOMBSTONE_GRACE_MS gives it, and not older ones", async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const pool = storesOf(topology);
    const tenDaysAgo = Date.now() - 10 * 24 * 3600 * 1000;
    await putTombstone(pool, 'dc-a', dataset, 'gone.bin', v(1000), tenDaysAgo);
    const dry = (env: NodeJS.ProcessEnv) => cliJson<ReconcileResult>(topology, ['reconcile', '--dataset', dataset, '--dry-run'], { ...withPassHistory(dataset), ...env });
    // The default grace (7 days): expired, so not copied, and nothing differs.
    expect((await dry({})).code).toBe(0);
    // The consumers keep tombstones 14 days: dc-b and dc-c lack one that still matters.
    const longer = await dry({ SHARDSYNC_TOMBSTONE_GRACE_MS: String(14 * 24 * 3600 * 1000) });
    expect(longer.code, longer.stderr).toBe(1);
    expect(longer.json.passes[0]?.totals.missing).toBe(2);
  });

  it('says so when a --prefix that repeats the dataset name matched nothing', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const pool = storesOf(topology);
    await putManaged(pool, 'dc-a', dataset, 'llama/shard-1.bin', 'only in dc-a', v(1000));
    const run = await cli(['reconcile', '--dataset', dataset, '--prefix', `${dataset}/llama/`, '--dry-run', '--topology', writeTopology(topology)], withPassHistory(dataset));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('note: --prefix is relative to the dataset and matched no key; did you mean --prefix "llama/"?');
  });

  it('removes exactly the --key asked for, not the keys that start with it, and leaves the last full pass as the recorded one', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const env = withPassHistory(dataset);
    const pool = storesOf(topology);
    await pool.of('dc-a').put(objectKeyOf(dataset, 'tmp/debug.bin'), Buffer.from('debris'));
    await pool.of('dc-a').put(objectKeyOf(dataset, 'tmp/debug.bin.keep'), Buffer.from('keep me'));
    const full = await cliJson<ReconcileResult>(topology, ['reconcile', '--dataset', dataset, '--dry-run'], env);
    expect(full.code, full.stderr).toBe(1);

    const dry = await cli(['reconcile', '--dataset', dataset, '--key', 'tmp/debug.bin', '--remove-unmanaged', '--dry-run', '--topology', writeTopology(topology)], env);
    expect(dry.code, dry.stderr).toBe(1);
    expect(dry.stdout).toContain(`dataset ${dataset} (key "tmp/debug.bin")`);
    expect(dry.stdout).toContain('tmp/debug.bin ');
    expect(dry.stdout).not.toContain('debug.bin.keep');
    const removed = await cliJson<ReconcileResult>(topology, ['reconcile', '--dataset', dataset, '--key', 'tmp/debug.bin', '--remove-unmanaged'], env);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.json).toMatchObject({ keys: ['tmp/debug.bin'], keysNotFound: [] });
    expect(await keysIn(pool, 'dc-a', dataset)).toEqual(['tmp/debug.bin.keep']);

    // status reads the dataset's last pass: still the full dry run, which found both keys.
    const last = await lastPassSummary(testRedis(), dataset, historyOptions(env));
    expect(last?.passId).toBe(full.json.passes[0]?.passId);
  });

  it('exits 3 when a --key is in no datacenter (a typo), naming it, but 0 for a key deleted everywhere', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const env = withPassHistory(dataset);
    const pool = storesOf(topology);
    for (const dc of ['dc-a', 'dc-b', 'dc-c']) {
      await putManaged(pool, dc, dataset, 'models/a.bin', 'same', v(1000));
      await putTombstone(pool, dc, dataset, 'models/gone.bin', v(1000));
    }

    const typo = await cli(['reconcile', '--dataset', dataset, '--key', 'models/a.bim', '--topology', writeTopology(topology)], env);
    expect(typo.code, typo.stderr).toBe(3);
    expect(typo.stdout).toContain('no datacenter holds key "models/a.bim" (neither an object nor a tombstone)');
    expect(typo.stdout).toContain('result: 1 of the keys asked for is in no datacenter');
    // One typo among keys that agree still fails: the typo must not pass for "all consistent".
    const mixed = await cliJson<ReconcileResult>(topology, ['reconcile', '--dataset', dataset, '--key', 'models/a.bin', '--key', 'models/a.bim'], env);
    expect(mixed.code).toBe(3);
    expect(mixed.json).toMatchObject({ converged: true, keysNotFound: ['models/a.bim'] });

    const deleted = await cliJson<ReconcileResult>(topology, ['reconcile', '--dataset', dataset, '--key', 'models/gone.bin', '--key', 'models/a.bin'], env);
    expect(deleted.code, deleted.stdout).toBe(0);
    expect(deleted.json.keysNotFound).toEqual([]);
  });

  it('goes on past a key S3 allows and shardsync refuses (a control character), reporting it as unmanaged, named escaped', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const env = withPassHistory(dataset);
    const pool = storesOf(topology);
    const odd = 'imports/bad\u0001name.bin';
    await putManaged(pool, 'dc-a', dataset, 'imports/good.bin', 'good', v(1000));
    await pool.of('dc-a').put(objectKeyOf(dataset, odd), Buffer.from('written by another tool'));
    try {
      const run = await cli(['reconcile', '--dataset', dataset, '--dry-run', '--topology', writeTopology(topology)], env);
      expect(run.code, run.stderr).toBe(1);
      expect(run.stdout).toMatch(/^dc-a +2 +0 +1 +0 +0 +0 +0 +1 /m);
      // Named as JSON spells it: a raw control character would be invisible, or act on the terminal.
      expect(run.stdout).toContain('  "imports/bad\\u0001name.bin"  [no version anywhere]  dc-a=unmanaged/skipped');
      expect(run.stdout).not.toContain('\u0001');
      expect(run.stdout).toContain('imports/good.bin  [');
    } finally {
      await pool.of('dc-a').delete(objectKeyOf(dataset, odd));
    }
  });

  it('is complete once the datacenter holds the winning state, whatever its peers still disagree on', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const env = withPassHistory(dataset);
    const pool = storesOf(topology);
    await putManaged(pool, 'dc-a', dataset, 'k', 'new', v(2000));
    await putManaged(pool, 'dc-b', dataset, 'k', 'old', v(1000));

    const run = await cliJson<BootstrapResult>(topology, ['bootstrap', '--datacenter', 'dc-c'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json).toMatchObject({ complete: true, repaired: 1 });
    expect(run.json.passes[0]?.converged).toBe(false);
  });

  it('says a bootstrap interrupted mid-pass was interrupted, that its copies stay and to run it again, and the next run completes it', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const env = withPassHistory(dataset);
    const pool = storesOf(topology);
    const keys = Array.from({ length: 40 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    await Promise.all(['dc-a', 'dc-b'].flatMap((dc) => keys.map((key) => putManaged(pool, dc, dataset, key, `body of ${key}`, v(1000)))));
    // Ctrl-C as main.ts delivers it, once the pass has started copying (its progress line says so).
    const controller = new AbortController();
    let stderr = '';
    const code = await runCli(['bootstrap', '--datacenter', 'dc-c', '--topology', writeTopology(topology)], {
      stdout: { write: () => true, isTTY: true },
      stderr: {
        write: (s) => {
          stderr += s;
          if (s.includes('reconciling keys')) controller.abort(new Error('interrupted by SIGINT'));
          return true;
        },
      },
      env,
      signal: controller.signal,
    });
    expect(code).toBe(2);
    expect(stderr).toContain('[SHARDSYNC_CLI_INTERRUPTED]');
    expect(stderr).toContain(`interrupted during the pass of dataset ${dataset}`);
    expect(stderr).toContain('hint: run the same command again');

    const again = await cliJson<BootstrapResult>(topology, ['bootstrap', '--datacenter', 'dc-c'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(await keysIn(pool, 'dc-c', dataset)).toEqual(keys);
  });

  it('reports an interrupted reconcile as retriable SHARDSYNC_CLI_INTERRUPTED in --json, not as a store failure', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    await putManaged(storesOf(topology), 'dc-a', dataset, 'k', 'body', v(1000));
    let stdout = '';
    const code = await runCli(['reconcile', '--dataset', dataset, '--json', '--topology', writeTopology(topology)], {
      stdout: { write: (s) => ((stdout += s), true) },
      stderr: { write: () => true },
      env: withPassHistory(dataset),
      signal: AbortSignal.abort(new Error('interrupted by SIGINT')),
    });
    expect(code).toBe(2);
    expect(JSON.parse(stdout)).toMatchObject({ error: 'SHARDSYNC_CLI_INTERRUPTED', retriable: true });
  });

  it('says when a bootstrap could not be recorded in the pass history, as reconcile does, since status keeps showing the older pass', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    await putManaged(storesOf(topology), 'dc-a', dataset, 'k', 'body', v(1000));
    const env = { ...withPassHistory(dataset), SHARDSYNC_REDIS_URL: 'redis://127.0.0.1:1' };
    const run = await cliJson<BootstrapResult>(topology, ['bootstrap', '--datacenter', 'dc-c'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json.historyWarning).toEqual(expect.any(String));
    const text = await cli(['bootstrap', '--datacenter', 'dc-c', '--topology', writeTopology(topology)], env);
    expect(text.stdout).toContain('note: the pass was not recorded in the pass history');
  });

  it('does not tell to run a bootstrap again when what keeps it incomplete is objects shardsync never wrote, which it never touches', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const env = withPassHistory(dataset);
    const pool = storesOf(topology);
    await putManaged(pool, 'dc-a', dataset, 'k', 'body', v(1000));
    await pool.of('dc-c').put(objectKeyOf(dataset, 'by-hand.bin'), Buffer.from('written behind shardsync'));
    for (let run = 0; run < 2; run++) {
      const text = await cli(['bootstrap', '--datacenter', 'dc-c', '--topology', writeTopology(topology)], env);
      expect(text.code, text.stderr).toBe(1);
      expect(text.stdout).not.toContain('run the same command again');
      expect(text.stdout).toContain(`shardsync reconcile --dataset ${dataset} --datacenter dc-c --dry-run`);
      // The table counts the object among the divergence that keeps the datacenter incomplete.
      expect(text.stdout).toMatch(new RegExp(`${dataset}\\s+${run === 0 ? 1 : 0}\\s+1\\s+${run === 0 ? 1 : 0}\\s+0\\s+[0-9]+ B\\s+incomplete`));
    }
  });

  it('refuses to bootstrap into a bucket that does not exist, pointing at init', async () => {
    const topology = await createTestTopology();
    const env = withPassHistory(topology.datasets[0]?.name ?? '');
    const missing = { ...topology, datacenters: topology.datacenters.map((dc) => (dc.name === 'dc-c' ? { ...dc, s3: { ...dc.s3, bucket: uniqueName('missing') } } : dc)) };
    const run = await cliJson<{ error: string; hint: string }>(missing, ['bootstrap', '--datacenter', 'dc-c'], env);
    expect(run.code).toBe(2);
    expect(run.json.hint).toBe('create it with: shardsync init');
  });
});
