import { DelegatingStore, type GetOptions, type GetResult, type HeadOptions, type ListEntry, type ListOptions, type ObjectInfo, type ObjectStore } from '@shardsync/objectstore';
import { describe, expect, it } from 'vitest';
import { runPass, type StoreLookup } from '../src/index.js';
import { DCS, MemoryStores, passOptions, putByHand, putEverywhere, v } from './helpers.js';

/** An ETag as the store reports one from a server that spells MD5 hex in upper case (quoted, as every ETag the stores return). */
const respelled = (etag: string): string => etag.toUpperCase();

/**
 * A datacenter whose S3 server spells ETags its own way (upper-case hex): the same
 * MD5s, so the same bytes, as the other datacenters'.
 */
class RespellingStore extends DelegatingStore {
  override async head(key: string, options?: HeadOptions): Promise<ObjectInfo | undefined> {
    const info = await super.head(key, options);
    return info === undefined ? undefined : { ...info, etag: respelled(info.etag) };
  }

  override async get(key: string, options?: GetOptions): Promise<GetResult> {
    const result = await super.get(key, options?.ifMatch === undefined ? options : { ...options, ifMatch: options.ifMatch.toLowerCase() });
    return { ...result, info: { ...result.info, etag: respelled(result.info.etag) } };
  }

  override async *list(options?: ListOptions): AsyncIterable<ListEntry> {
    for await (const entry of super.list(options)) yield { ...entry, etag: respelled(entry.etag) };
  }
}

/** The memory stores, dc-b seen through a server that spells ETags in upper case. */
function withRespelledDcB(stores: MemoryStores): StoreLookup {
  const dcB = new RespellingStore(stores.of('dc-b'));
  return { of: (dc: string): ObjectStore => (dc === 'dc-b' ? dcB : stores.of(dc)) };
}

describe('ETags spelled differently by different servers', () => {
  it('are the same ETag: equal copies are equal, with no request beyond the listings and no repair', async () => {
    const stores = new MemoryStores();
    for (let i = 0; i < 20; i++) await putEverywhere(stores, `shard-${i}`, `body ${i}`, v(1000 + i));
    const report = await runPass({ ...passOptions(stores), stores: withRespelledDcB(stores) });
    expect(report.divergentKeys).toBe(0);
    expect(report.requests.total).toBe(0);
    expect(report.bytesMoved).toBe(0);
    expect(report.converged).toBe(true);
  });

  it('name the same unmanaged object in every datacenter, which is no divergence', async () => {
    const stores = new MemoryStores();
    for (const dc of DCS) await putByHand(stores.of(dc), 'by-hand.bin', 'same bytes everywhere');
    const report = await runPass({ ...passOptions(stores), stores: withRespelledDcB(stores) });
    expect(report.divergentKeys).toBe(0);
    expect(report.converged).toBe(true);
  });
});
