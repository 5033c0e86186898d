import { createHash } from 'node:crypto';
import type { Topology } from '@shardsync/config';
import { formatVersion, META, objectKeyOf, tombstoneBody, tombstoneKeyOf } from '@shardsync/events';
import { MemoryObjectStore } from '@shardsync/objectstore';
import { runPass, type StoreLookup } from '@shardsync/reconcile';
import { describe, expect, it } from 'vitest';
import { commonPrefix, compileExactKeys, ExactKeyScope } from '../src/commands/exact-keys.js';
import { CliContext, passRequests, renderReconcile } from '../src/index.js';
import { offlineTopology } from './helpers.js';

const DATASET = 'models';
const DCS = ['dc-a', 'dc-b', 'dc-c'];

/** One in-memory store per datacenter of the offline topology. */
function memoryStores(): StoreLookup & { store(dc: string): MemoryObjectStore } {
  const stores = new Map(DCS.map((dc) => [dc, new MemoryObjectStore({ datacenter: dc, bucket: `bucket-${dc}` })]));
  const store = (dc: string): MemoryObjectStore => {
    const found = stores.get(dc);
    if (found === undefined) throw new Error(`no store for ${dc}`);
    return found;
  };
  return { of: store, store };
}

const sha256 = (body: string) => createHash('sha256').update(body).digest('hex');

describe('reconcile --key', () => {
  const topology: Topology = offlineTopology();

  it('takes each key once, in the order given, and refuses a key that cannot name an object', () => {
    expect(compileExactKeys(['tmp/b', 'tmp/a', 'tmp/b'])).toEqual(['tmp/b', 'tmp/a']);
    expect(() => compileExactKeys(['a/../b'])).toThrow('--key: key "a/../b" has a ".." segment');
    expect(() => compileExactKeys([])).toThrow('--key: give at least one key');
  });

  it('lists the longest prefix the keys share: the key itself for one key, nothing for keys with no common start', () => {
    expect(commonPrefix(['tmp/debug.bin'])).toBe('tmp/debug.bin');
    expect(commonPrefix(['tmp/debug.bin', 'tmp/debug.log', 'tmp/dump'])).toBe('tmp/d');
    expect(commonPrefix(['a.bin', 'b.bin'])).toBe('');
  });

  it('never cuts a surrogate pair in half: two emoji sharing their first code unit give the prefix before them', () => {
    expect(commonPrefix(['logs/😀.bin', 'logs/😃.bin'])).toBe('logs/');
    expect(commonPrefix(['logs/😀.bin', 'logs/😀.log'])).toBe('logs/😀.');
  });

  it('asks for one pass of the dataset over the prefix the keys share, and refuses --prefix beside --key', () => {
    const ctx = new CliContext({ topology });
    expect(passRequests(ctx, { dataset: DATASET, keys: ['tmp/a.bin', 'tmp/b.bin', 'tmp/a.bin'], unmanaged: 'remove' })).toEqual([
      expect.objectContaining({ dataset: DATASET, prefix: 'tmp/', unmanaged: 'remove' }),
    ]);
    expect(() => passRequests(ctx, { dataset: DATASET, keys: ['tmp/a.bin'], prefix: 'tmp/' })).toThrow('--key and --prefix cannot be used together');
  });

  it('removes the unmanaged key asked for and leaves a key that merely starts with it alone', async () => {
    const stores = memoryStores();
    await stores.store('dc-a').put(objectKeyOf(DATASET, 'tmp/debug.bin'), Buffer.from('debris'));
    await stores.store('dc-a').put(objectKeyOf(DATASET, 'tmp/debug.bin.keep'), Buffer.from('keep me'));
    const scope = new ExactKeyScope(stores, DATASET, ['tmp/debug.bin']);

    const report = await runPass({ topology, stores: scope, dataset: DATASET, prefix: scope.prefix, unmanaged: 'remove' });

    expect(report.totals.scanned).toBe(1);
    expect(report.keys.map((k) => k.key)).toEqual(['tmp/debug.bin']);
    expect(report.converged).toBe(true);
    expect(stores.store('dc-a').keys()).toEqual([objectKeyOf(DATASET, 'tmp/debug.bin.keep')]);
    expect(scope.unlisted()).toEqual([]);
  });

  it("compares a key's tombstone too, and names the keys no datacenter holds", async () => {
    const stores = memoryStores();
    const version = formatVersion({ physicalMs: Date.now() - 1000, logical: 0, producerId: 'p' });
    await stores.store('dc-a').put(tombstoneKeyOf(DATASET, 'gone.bin'), tombstoneBody('e1'), {
      metadata: { [META.version]: version, [META.eventId]: 'e1', [META.deletedAtMs]: String(Date.now()) },
    });
    await stores.store('dc-b').put(objectKeyOf(DATASET, 'gone.bin.v2'), Buffer.from('other'), {
      metadata: { [META.version]: version, [META.sha256]: sha256('other'), [META.eventId]: 'e2' },
    });
    const scope = new ExactKeyScope(stores, DATASET, ['gone.bin', 'gnoe.bin']);

    const report = await runPass({ topology, stores: scope, dataset: DATASET, prefix: scope.prefix, dryRun: true });

    // The tombstone is missing in dc-b and dc-c; gone.bin.v2, under the listed prefix "g", is not looked at.
    expect(report.totals.missing).toBe(2);
    expect(report.keys.map((k) => k.key)).toEqual(['gone.bin']);
    expect(scope.unlisted()).toEqual(['gnoe.bin']);
  });

  it('heads the report with the keys instead of the prefix listed, and says what no datacenter holds and why status is not updated', async () => {
    const stores = memoryStores();
    await stores.store('dc-a').put(objectKeyOf(DATASET, 'tmp/debug.bin'), Buffer.from('debris'));
    const scope = new ExactKeyScope(stores, DATASET, ['tmp/debug.bin', `${DATASET}/tmp/debug.log`]);
    const report = await runPass({ topology, stores: scope, dataset: DATASET, prefix: scope.prefix, dryRun: true });

    const text = renderReconcile({ converged: report.converged, passes: [report], keys: scope.keys, keysNotFound: scope.unlisted() });

    expect(text).toMatch(/^dataset models \(keys "tmp\/debug\.bin", "models\/tmp\/debug\.log"\) · routine, dry run · /m);
    expect(text).not.toContain('(prefix');
    expect(text).toContain('note: no datacenter holds key "models/tmp/debug.log" (neither an object nor a tombstone); keys are relative to the dataset: did you mean --key "tmp/debug.log"?');
    expect(text).toContain("note: this pass covered part of the dataset, so it is not recorded as the dataset's last pass");
    expect(text).toContain('shardsync reconcile --dataset models --dry-run');
  });

  it('says nothing of the pass history after a pass over the whole dataset', async () => {
    const report = await runPass({ topology, stores: memoryStores(), dataset: DATASET });
    expect(renderReconcile({ converged: true, passes: [report] })).not.toContain('note:');
  });
});
