import { formatVersion, META, objectKeyOf, tombstoneBody, tombstoneKeyOf } from '@shardsync/events';
import { describe, expect, it } from 'vitest';
import { runPass } from '../src/index.js';
import { bodyOf, DATASET, deleteObject, DCS, hasTombstone, MemoryStores, passOptions, putEverywhere, putObject, Trigger, v, versionOf } from './helpers.js';

function racingStores(): { stores: MemoryStores; trigger: Trigger } {
  const trigger = new Trigger();
  const stores = new MemoryStores(DCS, (dc) => ({ beforeOperation: trigger.hook(dc) }));
  return { stores, trigger };
}

describe('repairs racing a consumer', () => {
  it('a repair racing a newer consumer apply never loses the newer version (missing copy)', async () => {
    const { stores, trigger } = racingStores();
    await putEverywhere(stores, 'k', 'v1', v(100), ['dc-a', 'dc-b']);
    // Just before the reconciler writes v1 into dc-c, dc-c's consumer applies v2.
    trigger.arm('dc-c', 'put', objectKeyOf(DATASET, 'k'), () => putObject(stores.of('dc-c'), 'k', 'v2', v(200)));
    const report = await runPass(passOptions(stores));
    expect(trigger.pending).toBe(0);
    for (const dc of DCS) {
      expect(bodyOf(stores.of(dc), 'k')).toBe('v2');
      expect(versionOf(stores.of(dc), 'k')).toBe(formatVersion(v(200)));
    }
    expect(report.converged).toBe(true);
    // The conflict was settled by the next round: no failure to report for a pass that converged.
    expect(report.failures).toEqual([]);
  });

  it('a repair racing a newer consumer apply never loses the newer version (stale copy)', async () => {
    const { stores, trigger } = racingStores();
    await putEverywhere(stores, 'k', 'v2', v(200), ['dc-a', 'dc-c']);
    await putObject(stores.of('dc-b'), 'k', 'v1', v(100));
    trigger.arm('dc-b', 'put', objectKeyOf(DATASET, 'k'), () => putObject(stores.of('dc-b'), 'k', 'v3', v(300)));
    await runPass(passOptions(stores));
    for (const dc of DCS) expect(bodyOf(stores.of(dc), 'k')).toBe('v3');
  });

  it('a delete repair racing a newer consumer put keeps the put', async () => {
    const { stores, trigger } = racingStores();
    await putEverywhere(stores, 'k', 'v1', v(100));
    await deleteObject(stores.of('dc-a'), 'k', v(200));
    await deleteObject(stores.of('dc-b'), 'k', v(200));
    trigger.arm('dc-c', 'delete', objectKeyOf(DATASET, 'k'), () => putObject(stores.of('dc-c'), 'k', 'v3', v(300)));
    const report = await runPass(passOptions(stores));
    for (const dc of DCS) {
      expect(bodyOf(stores.of(dc), 'k')).toBe('v3');
      expect(hasTombstone(stores.of(dc), 'k')).toBe(false);
    }
    expect(report.converged).toBe(true);
  });

  it('a copy racing a newer consumer delete never undoes the delete, not even until the next pass', async () => {
    const { stores, trigger } = racingStores();
    await putEverywhere(stores, 'k', 'v1', v(100), ['dc-a', 'dc-b']);
    // dc-c's consumer deletes the key (tombstone v2) right before the reconciler's copy lands.
    trigger.arm('dc-c', 'put', objectKeyOf(DATASET, 'k'), () => deleteObject(stores.of('dc-c'), 'k', v(200)));
    const report = await runPass(passOptions(stores));
    expect(trigger.pending).toBe(0);
    // The copy that landed after the delete is taken back at once (readers never see v1 again in
    // dc-c), and the key decided again: the delete wins everywhere in the same pass.
    for (const dc of DCS) {
      expect(bodyOf(stores.of(dc), 'k')).toBeUndefined();
      expect(stores.of(dc).peek(tombstoneKeyOf(DATASET, 'k'))?.info.metadata['shardsync-version']).toBe(formatVersion(v(200)));
    }
    expect(report.converged).toBe(true);
  });

  it('a copy over a stale object never removes a newer tombstone a consumer wrote after the pass read the key', async () => {
    const { stores, trigger } = racingStores();
    await putEverywhere(stores, 'k', 'v3', v(300), ['dc-a', 'dc-b']);
    // dc-c holds an older put next to the older tombstone it outranks (left by a put killed between its steps).
    await deleteObject(stores.of('dc-c'), 'k', v(50));
    await putObject(stores.of('dc-c'), 'k', 'v1', v(100));
    // The pass reads dc-c's tombstone (v50) once to decide; just before the repair looks at it
    // again, dc-c's consumer writes a newer delete's tombstone (its object step not done yet).
    const tombstoneKey = tombstoneKeyOf(DATASET, 'k');
    trigger.arm('dc-c', 'head', tombstoneKey, async () => {
      trigger.arm('dc-c', 'head', tombstoneKey, async () => {
        await stores.of('dc-c').put(tombstoneKey, tombstoneBody('event-400'), {
          metadata: { [META.version]: formatVersion(v(400)), [META.eventId]: 'event-400', [META.deletedAtMs]: String(Date.now()) },
        });
      });
    });
    const report = await runPass(passOptions(stores));
    expect(trigger.pending).toBe(0);
    // The delete v400 is newest: it wins everywhere in the same pass, and dc-c's tombstone stays.
    for (const dc of DCS) {
      expect(bodyOf(stores.of(dc), 'k'), dc).toBeUndefined();
      expect(stores.of(dc).peek(tombstoneKey)?.info.metadata[META.version], dc).toBe(formatVersion(v(400)));
    }
    expect(report.converged).toBe(true);
  });

  it('gives up on a key that keeps changing with a retriable conflict, and leaves the newest version in place', async () => {
    const { stores, trigger } = racingStores();
    await putEverywhere(stores, 'k', 'v1', v(100), ['dc-a', 'dc-b']);
    let version = 1000;
    let newest = 'dc-c';
    // Every repair write meets a newer version written into that very datacenter just before it.
    const interfere = (dc: string) => async (): Promise<void> => {
      version += 1;
      newest = dc;
      await putObject(stores.of(dc), 'k', `v${version}`, v(version));
      for (const other of DCS) trigger.arm(other, 'put', objectKeyOf(DATASET, 'k'), interfere(other));
    };
    trigger.arm('dc-c', 'put', objectKeyOf(DATASET, 'k'), interfere('dc-c'));
    const report = await runPass(passOptions(stores, { maxConflictRounds: 2 }));
    expect(report.failures.some((f) => f.code === 'SHARDSYNC_RECONCILE_CONFLICT' && f.retriable)).toBe(true);
    expect(report.converged).toBe(false);
    expect(versionOf(stores.of(newest), 'k')).toBe(formatVersion(v(version)));
  });
});
