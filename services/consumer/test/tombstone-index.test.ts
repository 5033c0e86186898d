import { describe, expect, it } from 'vitest';
import { tombstoneKeyOf } from '@shardsync/events';
import { MemoryObjectStore } from '@shardsync/objectstore';
import { TombstoneIndex } from '../src/state/tombstone-index.js';

const HOUR = 3600_000;

describe('TombstoneIndex', () => {
  it('a reload indexes the tombstones within the grace period and deletes the older ones', async () => {
    let now = 0;
    const store = new MemoryObjectStore({ now: () => new Date(now) });
    for (let i = 0; i < 20; i += 1) await store.put(tombstoneKeyOf('ds', `old-${i}`), Buffer.alloc(0));
    now = 10 * HOUR;
    await store.put(tombstoneKeyOf('ds', 'recent'), Buffer.alloc(0));
    await store.put('ds/live-object', Buffer.from('x'));

    const index = new TombstoneIndex(store, 5 * HOUR);
    expect(await index.reload(now + HOUR)).toEqual({ loaded: 1, expired: 20 });
    expect(index.has('ds', 'recent')).toBe(true);
    expect(index.has('ds', 'old-0')).toBe(false);
    expect(store.keys().sort()).toEqual(['ds/live-object', tombstoneKeyOf('ds', 'recent')].sort());
  });

  it('an older reload finishing after a newer one does not replace its keys', async () => {
    let now = 0;
    let release = (): void => undefined;
    let deletes = 0;
    const store = new MemoryObjectStore({
      now: () => new Date(now),
      beforeOperation: async (operation) => {
        // The first reload's expiry is held until the second reload has finished.
        if (operation === 'delete' && ++deletes === 1) await new Promise<void>((resolve) => (release = resolve));
      },
    });
    await store.put(tombstoneKeyOf('ds', 'expired'), Buffer.alloc(0));
    now = 10 * HOUR;
    const index = new TombstoneIndex(store, HOUR);
    const first = index.reload(now);
    await expect.poll(() => deletes).toBe(1);
    // Seen by the second listing only.
    await store.put(tombstoneKeyOf('ds', 'written-meanwhile'), Buffer.alloc(0));
    await index.reload(now);
    expect(index.has('ds', 'written-meanwhile')).toBe(true);
    release();
    await first;
    expect(index.has('ds', 'written-meanwhile')).toBe(true);
  });
});
