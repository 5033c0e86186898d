import { describe, expect, it } from 'vitest';
import { MemoryObjectStore, ObjectStoreConfigError, StorePool, type MemoryObjectStoreOptions, type ObjectStore } from '../src/index.js';

class TrackedStore extends MemoryObjectStore {
  closed = false;

  override close(): Promise<void> {
    this.closed = true;
    return super.close();
  }
}

const DATACENTERS = ['dc-a', 'dc-b'].map((name) => ({ name, s3: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', bucket: `home-${name}` } }));

/** A pool of memory stores; `hold` makes operations on matching keys wait until the test releases them. */
function setup(maxOtherBuckets: number, beforeOperation?: MemoryObjectStoreOptions['beforeOperation']) {
  const opened: TrackedStore[] = [];
  const pool = new StorePool(DATACENTERS, {}, {
    maxOtherBuckets,
    factory: (config) => {
      const store = new TrackedStore({ datacenter: config.datacenter, bucket: config.bucket, beforeOperation });
      opened.push(store);
      return store;
    },
  });
  const openBuckets = () => opened.filter((s) => !s.closed).map((s) => `${s.datacenter}/${s.bucket}`);
  return { pool, opened, openBuckets };
}

function gate(): { wait: Promise<void>; release: () => void } {
  let release = (): void => undefined;
  const wait = new Promise<void>((resolve) => (release = resolve));
  return { wait, release };
}

describe('StorePool', () => {
  it('lists and aborts incomplete uploads of another bucket through its pooled store', async () => {
    const { pool, opened } = setup(4);
    const other = pool.at('dc-a', 'other-bucket');
    const uploads = async (store: ObjectStore): Promise<string[]> => {
      const ids: string[] = [];
      for await (const u of store.listUploads({ prefix: 'st/' })) ids.push(u.uploadId);
      return ids;
    };
    expect(await uploads(other)).toEqual([]); // opens the bucket's store
    const backing = opened.find((s) => s.bucket === 'other-bucket');
    const id = backing?.beginUpload('st/x', 0) ?? '';
    expect(await uploads(other)).toEqual([id]);
    expect(await other.abortUpload('st/x', id)).toBe(true);
    expect(await uploads(other)).toEqual([]);
  });

  it("leaves s3proxy's own files out of listings only for the datacenters whose topology says their server is s3proxy", async () => {
    const datacenters = [
      { name: 'dc-a', s3: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', bucket: 'a', artifacts: 's3proxy' as const } },
      { name: 'dc-b', s3: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', bucket: 'b' } },
    ];
    // A key a user may well write (a run id), and an s3proxy temporary file of the same shape.
    const key = 'runs/exp-0b6a3c1e-8f7d-4c2a-9e51-3d2f6a7b8c9d';
    const pool = new StorePool(datacenters, {}, { factory: (config, options) => new MemoryObjectStore({ datacenter: config.datacenter, bucket: config.bucket, listExclude: options.listExclude }) });
    const listed = async (dc: string) => {
      const store = pool.of(dc);
      await store.put(key, Buffer.from('x'));
      const keys: string[] = [];
      for await (const entry of store.list()) keys.push(entry.key);
      return keys;
    };
    expect(await listed('dc-a')).toEqual([]);
    expect(await listed('dc-b')).toEqual([key]);
    // A lister that must see every key (a consumer's tombstone index) keeps them.
    const keeping = new StorePool(datacenters, {}, { listArtifacts: true, factory: (config, options) => new MemoryObjectStore({ datacenter: config.datacenter, bucket: config.bucket, listExclude: options.listExclude }) });
    await keeping.of('dc-a').put(key, Buffer.from('x'));
    const keys: string[] = [];
    for await (const entry of keeping.of('dc-a').list()) keys.push(entry.key);
    expect(keys).toEqual([key]);
  });

  it('keeps at most maxOtherBuckets stores of other buckets open, closing the least recently used', async () => {
    const { pool, opened, openBuckets } = setup(2);
    await pool.at('dc-a', 'bucket-1').head('k');
    await pool.at('dc-a', 'bucket-2').head('k');
    await pool.at('dc-a', 'bucket-1').head('k'); // bucket-2 is now the least recently used
    await pool.at('dc-a', 'bucket-3').head('k');
    expect(openBuckets()).toEqual(['dc-a/bucket-1', 'dc-a/bucket-3']);
    for (let i = 0; i < 100; i += 1) await pool.at('dc-b', `many-${i}`).head('k');
    expect(openBuckets()).toHaveLength(2);
    expect(pool.openOtherStores).toBe(2);
    expect(opened).toHaveLength(103);
  });

  it('reuses the open store of a bucket instead of opening another', async () => {
    const { pool, opened } = setup(2);
    const store = pool.at('dc-a', 'bucket-1');
    for (let i = 0; i < 5; i += 1) await store.head('k');
    await pool.at('dc-a', 'bucket-1').head('k');
    await pool.at('dc-b', 'bucket-1').head('k');
    expect(opened.map((s) => `${s.datacenter}/${s.bucket}`)).toEqual(['dc-a/bucket-1', 'dc-b/bucket-1']);
  });

  it("never evicts a datacenter's own bucket, which does not count against the limit", async () => {
    const { pool, opened } = setup(1);
    const home = pool.of('dc-a');
    expect(pool.at('dc-a', 'home-dc-a')).toBe(home);
    await home.put('written/by-service', Buffer.from('abc'));
    for (let i = 0; i < 10; i += 1) await pool.at('dc-a', `other-${i}`).head('k');
    expect(pool.of('dc-a')).toBe(home);
    expect((await pool.at('dc-a', 'home-dc-a').head('written/by-service'))?.size).toBe(3);
    expect(opened[0]).toBe(home);
    expect((home as TrackedStore).closed).toBe(false);
    expect(pool.openOtherStores).toBe(1);
  });

  it('closes an evicted store once the operation running on it has finished, never under it', async () => {
    const held = gate();
    const { pool, opened } = setup(1, async (_op, key) => {
      if (key === 'slow') await held.wait;
    });
    const slow = pool.at('dc-a', 'bucket-1').head('slow');
    await pool.at('dc-a', 'bucket-2').head('k'); // evicts bucket-1 while its HEAD waits
    expect(opened[0]?.closed).toBe(false);
    expect(pool.openOtherStores).toBe(2);
    held.release();
    expect(await slow).toBeUndefined();
    expect(opened[0]?.closed).toBe(true);
    expect(pool.openOtherStores).toBe(1);
  });

  it('keeps an evicted store open until the body of a GET on it has been read', async () => {
    const { pool, opened } = setup(1);
    const store = pool.at('dc-a', 'bucket-1');
    await store.put('k', Buffer.from('body'));
    const { body } = await store.get('k');
    await pool.at('dc-a', 'bucket-2').head('k'); // evicts bucket-1 while its body is unread
    expect(opened[0]?.closed).toBe(false);
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('body');
    await expect.poll(() => opened[0]?.closed).toBe(true);
  });

  it('keeps an evicted store open until a listing on it stops', async () => {
    const { pool, opened } = setup(1);
    const store = pool.at('dc-a', 'bucket-1');
    await store.put('a', Buffer.from('1'));
    await store.put('b', Buffer.from('2'));
    const listing = store.list()[Symbol.asyncIterator]();
    expect((await listing.next()).value).toMatchObject({ key: 'a' });
    await pool.at('dc-a', 'bucket-2').head('k');
    expect(opened[0]?.closed).toBe(false);
    await listing.return?.();
    expect(opened[0]?.closed).toBe(true);
  });

  it('a store handed out before its bucket was evicted still works, on a store opened again', async () => {
    const { pool, opened } = setup(1);
    const kept = pool.at('dc-a', 'bucket-1');
    await kept.head('k');
    await pool.at('dc-a', 'bucket-2').head('k');
    expect(opened[0]?.closed).toBe(true);
    expect(await kept.head('k')).toBeUndefined();
    expect(opened.map((s) => `${s.bucket}:${s.closed ? 'closed' : 'open'}`)).toEqual(['bucket-1:closed', 'bucket-2:closed', 'bucket-1:open']);
  });

  it('close() closes every store, home stores and evicted ones still in use included', async () => {
    const { pool, opened } = setup(1, async (_op, key) => {
      if (key === 'stuck') await new Promise<void>(() => undefined);
    });
    pool.of('dc-a');
    void pool.at('dc-a', 'bucket-1').head('stuck');
    await pool.at('dc-a', 'bucket-2').head('k');
    await pool.close();
    expect(opened.map((s) => s.closed)).toEqual([true, true, true]);
  });

  it('after close(), an operation through a store handed out before fails and opens nothing', async () => {
    const { pool, opened } = setup(2);
    const other = pool.at('dc-a', 'bucket-1');
    await other.head('k');
    await pool.close();
    const before = opened.length;
    await expect(other.head('k')).rejects.toMatchObject({ code: 'SHARDSYNC_STORE_CLOSED' });
    await expect(other.put('k', Buffer.from('x'))).rejects.toMatchObject({ code: 'SHARDSYNC_STORE_CLOSED' });
    expect(() => pool.of('dc-b')).toThrow(/are closed/);
    expect(opened.length).toBe(before);
  });

  it('refuses a limit below 1', () => {
    expect(() => new StorePool(DATACENTERS, {}, { maxOtherBuckets: 0 })).toThrow(ObjectStoreConfigError);
  });
});
