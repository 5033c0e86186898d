import { describe, expect, it } from 'vitest';
import { MemoryObjectStore, type MemoryObjectStoreOptions } from '@shardsync/objectstore';
import { SourceStores } from '../src/ingest/source-stores.js';

class TrackedStore extends MemoryObjectStore {
  closed = false;

  override close(): Promise<void> {
    this.closed = true;
    return super.close();
  }
}

function setup(maxForeign: number, beforeOperation?: MemoryObjectStoreOptions['beforeOperation']) {
  const shared = new TrackedStore({ datacenter: 'dc-a', bucket: 'topology-a' });
  const opened: TrackedStore[] = [];
  const sources = new SourceStores({
    topologyBuckets: new Map([['dc-a', 'topology-a']]),
    shared: () => shared,
    open: (datacenter, bucket) => {
      const store = new TrackedStore({ datacenter, bucket, beforeOperation });
      opened.push(store);
      return store;
    },
    maxForeign,
  });
  const openBuckets = () => opened.filter((s) => !s.closed).map((s) => s.bucket);
  return { sources, shared, opened, openBuckets };
}

describe('SourceStores', () => {
  it('keeps at most maxForeign stores of other buckets open, closing the least recently used', async () => {
    const { sources, opened, openBuckets } = setup(2);
    await sources.head('dc-a', 'bucket-1', 'k');
    await sources.head('dc-a', 'bucket-2', 'k');
    await sources.head('dc-a', 'bucket-1', 'k'); // bucket-2 is now the least recently used
    await sources.head('dc-a', 'bucket-3', 'k');
    expect(openBuckets()).toEqual(['bucket-1', 'bucket-3']);
    for (let i = 0; i < 100; i += 1) await sources.head('dc-a', `many-${i}`, 'k');
    expect(openBuckets()).toHaveLength(2);
    expect(sources.openForeignStores).toBe(2);
    expect(opened).toHaveLength(103);
  });

  it('reuses the open store of a bucket instead of opening another', async () => {
    const { sources, opened } = setup(2);
    for (let i = 0; i < 5; i += 1) await sources.head('dc-a', 'bucket-1', 'k');
    await sources.head('dc-b', 'bucket-1', 'k');
    expect(opened.map((s) => `${s.datacenter}/${s.bucket}`)).toEqual(['dc-a/bucket-1', 'dc-b/bucket-1']);
  });

  it("a datacenter's topology bucket uses the shared store and never counts against the limit", async () => {
    const { sources, shared, opened } = setup(1);
    await shared.put('written/by-service', Buffer.from('abc'));
    expect((await sources.head('dc-a', 'topology-a', 'written/by-service'))?.size).toBe(3);
    await sources.head('dc-a', 'bucket-1', 'k');
    await sources.head('dc-a', 'topology-a', 'k');
    expect(opened.map((s) => s.bucket)).toEqual(['bucket-1']);
    expect(sources.openForeignStores).toBe(1);
    await sources.close();
    expect(shared.closed).toBe(false);
  });

  it('a store evicted while its HEAD runs is closed only once that HEAD has finished', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { sources, opened } = setup(1, async (_op, key) => {
      if (key === 'slow') await gate;
    });
    const slow = sources.head('dc-a', 'bucket-1', 'slow');
    await sources.head('dc-a', 'bucket-2', 'k'); // evicts bucket-1 while its HEAD waits
    expect(opened[0]?.closed).toBe(false);
    expect(sources.openForeignStores).toBe(2);
    release();
    expect(await slow).toBeUndefined();
    expect(opened[0]?.closed).toBe(true);
    expect(sources.openForeignStores).toBe(1);
  });

  it('close() closes every store of another bucket it opened, also one still serving a HEAD', async () => {
    const gate = new Promise<void>(() => undefined);
    const { sources, opened } = setup(1, async (_op, key) => {
      if (key === 'stuck') await gate;
    });
    void sources.head('dc-a', 'bucket-1', 'stuck');
    await sources.head('dc-a', 'bucket-2', 'k');
    await sources.close();
    expect(opened.map((s) => s.closed)).toEqual([true, true]);
  });
});
