import { brotliCompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { META, objectKeyOf, type ShardUpdate } from '@shardsync/events';
import { sha256Hex } from '@shardsync/integrity';
import { MemoryObjectStore } from '@shardsync/objectstore';
import { applierSetup, put, v } from './applier-fixtures.js';

/** Inputs the applier cannot trust: events anyone with write access to the topic can send, objects other tools wrote. */

describe('Applier: inputs it cannot trust', () => {
  it('an inline payload declaring more bytes than any inline payload carries is refused before it is decompressed, never written', async () => {
    const { local, applier } = applierSetup();
    // A few KiB on the wire that inflate to 8 MiB: the declared size alone bounded the inflation.
    const inflated = Buffer.alloc(8 * 1024 * 1024);
    const compressed = brotliCompressSync(inflated);
    expect(compressed.length).toBeLessThan(64 * 1024);
    const u: ShardUpdate = {
      ...put('bomb', v(7), ''),
      size: inflated.length,
      sha256: sha256Hex(inflated),
      payload: { kind: 'inline', bytes: compressed, compression: 'BROTLI', uncompressedSize: inflated.length },
    };
    await expect(applier.apply(u)).rejects.toMatchObject({ code: 'SHARDSYNC_INVALID_EVENT', retriable: false });
    expect(await local.head(objectKeyOf('ds', 'bomb'))).toBeUndefined();
  });

  it('a peer object whose version metadata is not a version (written by another tool) does not make the update superseded', async () => {
    const origin = new MemoryObjectStore({ datacenter: 'dc-a', bucket: 'a' });
    const peer = new MemoryObjectStore({ datacenter: 'dc-c', bucket: 'c' });
    const { local, applier } = applierSetup({ 'dc-a': origin, 'dc-c': peer });
    // The staged copy is not there (yet), and the peer holds an object of the key that another
    // tool wrote with a version field of its own format, which sorts above every real version.
    await peer.put(objectKeyOf('ds', 'k'), Buffer.from('by hand'), { metadata: { [META.version]: 'v2-manual' } });
    const u: ShardUpdate = { ...put('k', v(7), 'right bytes'), payload: { kind: 'staged', datacenter: 'dc-a', bucket: 'a', key: '.shardsync/staging/s1' } };
    await expect(applier.apply(u)).rejects.toMatchObject({ code: 'SHARDSYNC_SOURCE_UNAVAILABLE', retriable: true });

    // Once the staged copy is readable, the update applies.
    await origin.put('.shardsync/staging/s1', Buffer.from('right bytes'));
    expect(await applier.apply(u)).toMatchObject({ result: 'applied', mode: 'stream' });
    expect((await local.head(objectKeyOf('ds', 'k')))?.size).toBe('right bytes'.length);
  });
});
