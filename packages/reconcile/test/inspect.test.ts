import { formatVersion } from '@shardsync/events';
import { describe, expect, it } from 'vitest';
import { inspectKey } from '../src/index.js';
import { DATASET, deleteObject, MemoryStores, putEverywhere, rot, sha256, testTopology, v } from './helpers.js';

describe('inspectKey', () => {
  it('shows every datacenter\'s version, SHA-256, size and tombstone, and which copy differs', async () => {
    const stores = new MemoryStores();
    await putEverywhere(stores, 'k', 'bytes', v(10), ['dc-a', 'dc-b']);
    await deleteObject(stores.of('dc-c'), 'k', v(5));
    const inspection = await inspectKey({ topology: testTopology(), stores, dataset: DATASET, key: 'k' });
    expect(inspection.winner).toEqual({ kind: 'put', version: formatVersion(v(10)), sha256: sha256('bytes'), size: 5 });
    expect(inspection.copies.map((c) => [c.datacenter, c.status, c.object?.size, c.tombstone?.version])).toEqual([
      ['dc-a', 'equal', 5, undefined],
      ['dc-b', 'equal', 5, undefined],
      ['dc-c', 'stale', undefined, formatVersion(v(5))],
    ]);
    expect(inspection.agree).toBe(false);
  });

  it('checks the bytes when asked, and still reports the datacenters it can read when one cannot be', async () => {
    const stores = new MemoryStores();
    await putEverywhere(stores, 'k', 'bytes', v(10));
    rot(stores.of('dc-b'), 'k');
    stores.of('dc-c').injectFault({ operation: 'head', error: Object.assign(new Error('down'), { code: 'SHARDSYNC_STORE_UNAVAILABLE', retriable: true }), times: Infinity });
    const inspection = await inspectKey({ topology: testTopology(), stores, dataset: DATASET, key: 'k', verifyBytes: true });
    expect(inspection.copies.map((c) => [c.datacenter, c.object?.integrity ?? c.error?.code])).toEqual([
      ['dc-a', 'ok'],
      ['dc-b', 'corrupt'],
      ['dc-c', 'SHARDSYNC_STORE_UNAVAILABLE'],
    ]);
    expect(inspection.agree).toBe(false);
  });
});
