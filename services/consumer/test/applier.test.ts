import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { formatVersion, META, objectKeyOf, tombstoneKeyOf, type ShardUpdate } from '@shardsync/events';
import { sha256Hex } from '@shardsync/integrity';
import { MemoryObjectStore, ObjectNotFoundError, StoreUnavailableError } from '@shardsync/objectstore';
import { Applier } from '../src/apply/applier.js';
import { TransferSlots } from '../src/apply/transfer-slots.js';
import { LocalState } from '../src/state/local-state.js';
import { TombstoneIndex } from '../src/state/tombstone-index.js';
import { applierSetup, body, del, put, v } from './applier-fixtures.js';


describe('Applier', () => {
  it('writes the object with its version, SHA-256 and event id as metadata', async () => {
    const { local, applier } = applierSetup();
    const u = put('a', v(10), 'hello');
    expect(await applier.apply(u)).toMatchObject({ result: 'applied' });
    const info = await local.head(objectKeyOf('ds', 'a'));
    expect(info?.metadata).toMatchObject({ [META.version]: formatVersion(v(10)), [META.sha256]: sha256Hex('hello'), [META.eventId]: u.eventId });
  });

  it('an equal version is a duplicate and a lower version is stale: neither rewrites the object', async () => {
    const { local, applier } = applierSetup();
    await applier.apply(put('a', v(10), 'ten'));
    expect(await applier.apply(put('a', v(10), 'ten'))).toEqual({ result: 'skipped', reason: 'duplicate' });
    expect(await applier.apply(put('a', v(5), 'five'))).toEqual({ result: 'skipped', reason: 'stale' });
    expect(await body(local, objectKeyOf('ds', 'a'))).toBe('ten');
  });

  it('a delete leaves a tombstone that a late, older put cannot get past, even after a restart', async () => {
    const first = applierSetup();
    await first.applier.apply(put('a', v(1), 'one'));
    await first.applier.apply(del('a', v(3)));
    expect(await first.local.head(objectKeyOf('ds', 'a'))).toBeUndefined();
    expect((await first.local.head(tombstoneKeyOf('ds', 'a')))?.metadata[META.version]).toBe(formatVersion(v(3)));

    // A fresh consumer over the same store (no cache) must still see the tombstone.
    const tombstones = new TombstoneIndex(first.local, 60_000);
    await tombstones.reload();
    const state = new LocalState(first.local, tombstones, 1000);
    const restarted = new Applier({ local: first.local, state, tombstones, storeFor: () => first.local, peersOf: () => [], onBytes: () => undefined, slots: new TransferSlots(4) });
    expect(await restarted.apply(put('a', v(2), 'late'))).toEqual({ result: 'skipped', reason: 'stale' });
    expect(await first.local.head(objectKeyOf('ds', 'a'))).toBeUndefined();
  });

  it('a put newer than a tombstone brings the key back and removes the tombstone', async () => {
    const { local, applier } = applierSetup();
    await applier.apply(del('a', v(3)));
    expect(await applier.apply(put('a', v(4), 'back'))).toMatchObject({ result: 'applied' });
    expect(await body(local, objectKeyOf('ds', 'a'))).toBe('back');
    expect(await local.head(tombstoneKeyOf('ds', 'a'))).toBeUndefined();
  });

  it('a newer version written by someone else meanwhile is never overwritten by an older one', async () => {
    const { local, applier } = applierSetup();
    // Another writer (a reconciler repair) put version 9 behind the consumer's back.
    await local.put(objectKeyOf('ds', 'a'), Buffer.from('nine'), { metadata: { [META.version]: formatVersion(v(9)), [META.sha256]: sha256Hex('nine') } });
    expect(await applier.apply(put('a', v(5), 'five'))).toEqual({ result: 'skipped', reason: 'stale' });
    expect(await body(local, objectKeyOf('ds', 'a'))).toBe('nine');
  });

  it('a referenced payload whose staged copy is corrupt is taken from a peer holding the same version', async () => {
    const origin = new MemoryObjectStore({ datacenter: 'dc-a', bucket: 'a' });
    const peer = new MemoryObjectStore({ datacenter: 'dc-c', bucket: 'c' });
    const { local, applier } = applierSetup({ 'dc-a': origin, 'dc-c': peer });
    const good = 'x'.repeat(5000);
    await origin.put('.shardsync/staging/s1', Buffer.from('y'.repeat(5000)));
    const u: ShardUpdate = { ...put('big', v(7), good), payload: { kind: 'staged', datacenter: 'dc-a', bucket: 'a', key: '.shardsync/staging/s1' } };
    await peer.put(objectKeyOf('ds', 'big'), Buffer.from(good), { metadata: { [META.version]: formatVersion(v(7)), [META.sha256]: sha256Hex(good) } });
    expect(await applier.apply(u)).toMatchObject({ result: 'applied', mode: 'stream' });
    expect(await body(local, objectKeyOf('ds', 'big'))).toBe(good);
  });

  it('bytes that match no source never become visible, and the error says so without retrying forever', async () => {
    const origin = new MemoryObjectStore({ datacenter: 'dc-a', bucket: 'a' });
    const { local, applier } = applierSetup({ 'dc-a': origin });
    await origin.put('.shardsync/staging/s1', Buffer.from('corrupt'));
    // The only peer holding this version has bad bytes too.
    await origin.put(objectKeyOf('ds', 'k'), Buffer.from('corrupt'), { metadata: { [META.version]: formatVersion(v(7)) } });
    const u: ShardUpdate = { ...put('k', v(7), 'correct'), payload: { kind: 'staged', datacenter: 'dc-a', bucket: 'a', key: '.shardsync/staging/s1' } };
    await expect(applier.apply(u)).rejects.toMatchObject({ code: 'SHARDSYNC_DIGEST_MISMATCH_ALL_SOURCES', retriable: false });
    expect(await local.head(objectKeyOf('ds', 'k'))).toBeUndefined();
  });

  it('a staged copy with other bytes while no peer holds the version is SHARDSYNC_SOURCE_BYTES_MISMATCH (the short wait), not an unavailable source', async () => {
    const origin = new MemoryObjectStore({ datacenter: 'dc-a', bucket: 'a' });
    const peer = new MemoryObjectStore({ datacenter: 'dc-c', bucket: 'c' });
    const { local, applier } = applierSetup({ 'dc-a': origin, 'dc-c': peer });
    // What an announcement with the right size and a wrong SHA-256 looks like to every consumer.
    await origin.put('.shardsync/staging/s1', Buffer.from('other bytes'));
    const u: ShardUpdate = { ...put('k', v(7), 'right bytes'), payload: { kind: 'staged', datacenter: 'dc-a', bucket: 'a', key: '.shardsync/staging/s1' } };
    await expect(applier.apply(u)).rejects.toMatchObject({ code: 'SHARDSYNC_SOURCE_BYTES_MISMATCH', retriable: true });
    expect(await local.head(objectKeyOf('ds', 'k'))).toBeUndefined();

    // A peer whose store cannot be asked may hold good bytes: the long wait for an unavailable source.
    peer.injectFault({ operation: 'head', error: () => new StoreUnavailableError('dc-c is down'), times: 1 });
    await expect(applier.apply(u)).rejects.toMatchObject({ code: 'SHARDSYNC_SOURCE_UNAVAILABLE', retriable: true });
  });

  it('a staged copy of another length (truncated) is SHARDSYNC_SOURCE_BYTES_MISMATCH without reading it, not an unavailable source', async () => {
    const origin = new MemoryObjectStore({ datacenter: 'dc-a', bucket: 'a' });
    const { local, applier } = applierSetup({ 'dc-a': origin, 'dc-c': new MemoryObjectStore({ datacenter: 'dc-c', bucket: 'c' }) });
    await origin.put('.shardsync/staging/s1', Buffer.from('right by'));
    const gets = vi.spyOn(origin, 'get');
    const u: ShardUpdate = { ...put('k', v(7), 'right bytes'), payload: { kind: 'staged', datacenter: 'dc-a', bucket: 'a', key: '.shardsync/staging/s1' } };
    const failure: unknown = await applier.apply(u).catch((err: unknown) => err);
    expect(failure).toMatchObject({ code: 'SHARDSYNC_SOURCE_BYTES_MISMATCH', retriable: true });
    expect(String(failure)).toMatch(/holds 8 bytes, not 11/);
    expect(gets).not.toHaveBeenCalled();
    expect(await local.head(objectKeyOf('ds', 'k'))).toBeUndefined();
  });

  it('a local staged copy with other bytes while no peer holds the version is SHARDSYNC_SOURCE_BYTES_MISMATCH too', async () => {
    const { local, applier } = applierSetup({ 'dc-c': new MemoryObjectStore({ datacenter: 'dc-c', bucket: 'c' }) });
    await local.put('.shardsync/staging/s1', Buffer.from('other bytes'));
    const u: ShardUpdate = { ...put('k', v(7), 'right bytes'), payload: { kind: 'staged', datacenter: 'dc-b', bucket: 'b', key: '.shardsync/staging/s1' } };
    await expect(applier.apply(u)).rejects.toMatchObject({ code: 'SHARDSYNC_SOURCE_BYTES_MISMATCH', retriable: true });
    expect(await local.head(objectKeyOf('ds', 'k'))).toBeUndefined();
  });

  it("a form encoding sent by the client (curl's default) is not stored as the object's Content-Type", async () => {
    const { local, applier } = applierSetup();
    await applier.apply({ ...put('form', v(1), 'a=b&c'), metadata: { 'content-type': 'application/x-www-form-urlencoded' } });
    await applier.apply({ ...put('text', v(1), 'hello'), metadata: { 'content-type': 'text/plain' } });
    expect((await local.head(objectKeyOf('ds', 'form')))?.contentType).not.toBe('application/x-www-form-urlencoded');
    expect((await local.head(objectKeyOf('ds', 'text')))?.contentType).toBe('text/plain');
    expect(await body(local, objectKeyOf('ds', 'form'))).toBe('a=b&c');
  });

  it('an unavailable store is a retriable failure', async () => {
    const { local, applier } = applierSetup();
    local.injectFault({ operation: 'put', error: () => new StoreUnavailableError('injected outage'), times: 1 });
    await expect(applier.apply(put('a', v(1), 'x'))).rejects.toMatchObject({ retriable: true });
    expect(await applier.apply(put('a', v(1), 'x'))).toMatchObject({ result: 'applied' });
  });

  it('a put that fails releases the body it was streaming from the source (on S3, its socket)', async () => {
    const source = new MemoryObjectStore({ datacenter: 'dc-a', bucket: 'a' });
    await source.put('.shardsync/staging/s1', Buffer.from('staged bytes'));
    const opened: Readable[] = [];
    const get = source.get.bind(source);
    source.get = async (key, options) => {
      const result = await get(key, options);
      opened.push(result.body);
      return result;
    };
    const { local, applier } = applierSetup({ 'dc-a': source });
    local.injectFault({ operation: 'put', error: () => new StoreUnavailableError('injected outage'), times: 1 });
    const u: ShardUpdate = { ...put('k', v(7), 'staged bytes'), payload: { kind: 'staged', datacenter: 'dc-a', bucket: 'a', key: '.shardsync/staging/s1' } };
    await expect(applier.apply(u)).rejects.toMatchObject({ retriable: true });
    expect(opened).toHaveLength(1);
    expect(opened[0]?.destroyed).toBe(true);
  });

  it("this datacenter's store failing while a payload streams in is the store's own retriable failure, not a missing source, so no source wait runs out", async () => {
    const origin = new MemoryObjectStore({ datacenter: 'dc-a', bucket: 'a' });
    await origin.put('.shardsync/staging/s1', Buffer.from('staged bytes'));
    const { local, applier } = applierSetup({ 'dc-a': origin });
    local.injectFault({ operation: 'put', error: () => new StoreUnavailableError('injected outage'), times: 1 });
    const u: ShardUpdate = { ...put('k', v(7), 'staged bytes'), payload: { kind: 'staged', datacenter: 'dc-a', bucket: 'a', key: '.shardsync/staging/s1' } };
    await expect(applier.apply(u)).rejects.toMatchObject({ code: 'SHARDSYNC_STORE_UNAVAILABLE', retriable: true });
    expect(await applier.apply(u)).toMatchObject({ result: 'applied', mode: 'stream' });
    expect(await body(local, objectKeyOf('ds', 'k'))).toBe('staged bytes');
  });

  it("the origin's store failing while it reads its own staged copy is the store's own retriable failure, not a missing source", async () => {
    const { local, applier } = applierSetup();
    await local.put('.shardsync/staging/s1', Buffer.from('staged bytes'));
    local.injectFault({ operation: 'head', key: '.shardsync/staging/s1', error: () => new StoreUnavailableError('injected outage'), times: 1 });
    const u: ShardUpdate = { ...put('k', v(7), 'staged bytes'), payload: { kind: 'staged', datacenter: 'dc-b', bucket: 'b', key: '.shardsync/staging/s1' } };
    await expect(applier.apply(u)).rejects.toMatchObject({ code: 'SHARDSYNC_STORE_UNAVAILABLE', retriable: true });
    expect(await applier.apply(u)).toMatchObject({ result: 'applied', mode: 'copy' });
  });

  it("the origin's store breaking off while it reads its own staged copy back is a retriable failure, never a dead letter", async () => {
    const { local, applier } = applierSetup();
    await local.put('.shardsync/staging/s1', Buffer.from('staged bytes'));
    const get = local.get.bind(local);
    local.get = async (key, options) => {
      const result = await get(key, options);
      const broken = new PassThrough();
      broken.write(Buffer.from('staged'));
      setImmediate(() => broken.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })));
      return { info: result.info, body: broken };
    };
    const u: ShardUpdate = { ...put('k', v(7), 'staged bytes'), payload: { kind: 'staged', datacenter: 'dc-b', bucket: 'b', key: '.shardsync/staging/s1' } };
    await expect(applier.apply(u)).rejects.toMatchObject({ code: 'SHARDSYNC_STORE_UNAVAILABLE', retriable: true });
  });

  it("the origin's read-back of its own staged copy reports every chunk, so the watchdog hears from a copy of many GiB before it ends", async () => {
    const local = new MemoryObjectStore({ datacenter: 'dc-b', bucket: 'b' });
    const tombstones = new TombstoneIndex(local, 60_000);
    const reported: number[] = [];
    const applier = new Applier({ local, state: new LocalState(local, tombstones, 1000), tombstones, storeFor: () => local, peersOf: () => [], onBytes: (n) => reported.push(n), slots: new TransferSlots(4) });
    const chunks = ['staged', ' ', 'bytes'];
    await local.put('.shardsync/staging/s1', Buffer.from(chunks.join('')));
    const get = local.get.bind(local);
    local.get = async (key, options) => ({ info: (await get(key, options)).info, body: Readable.from(chunks.map((c) => Buffer.from(c))) });
    const copy = local.copy.bind(local);
    let reportedBeforeCopy: number[] = [];
    local.copy = async (from, to, options) => {
      reportedBeforeCopy = [...reported];
      return copy(from, to, options);
    };
    const u: ShardUpdate = { ...put('k', v(7), 'staged bytes'), payload: { kind: 'staged', datacenter: 'dc-b', bucket: 'b', key: '.shardsync/staging/s1' } };
    expect(await applier.apply(u)).toMatchObject({ result: 'applied', mode: 'copy' });
    expect(reportedBeforeCopy).toEqual(chunks.map((c) => c.length));
  });

  it('a local staged copy deleted between reading it back and copying it is a missing source (retriable), not a dead letter', async () => {
    const { local, applier } = applierSetup();
    await local.put('.shardsync/staging/s1', Buffer.from('staged bytes'));
    local.injectFault({ operation: 'copy', error: () => new ObjectNotFoundError('deleted meanwhile'), times: 1 });
    const u: ShardUpdate = { ...put('k', v(7), 'staged bytes'), payload: { kind: 'staged', datacenter: 'dc-b', bucket: 'b', key: '.shardsync/staging/s1' } };
    await expect(applier.apply(u)).rejects.toMatchObject({ code: 'SHARDSYNC_SOURCE_UNAVAILABLE', retriable: true });
    expect(await applier.apply(u)).toMatchObject({ result: 'applied', mode: 'copy' });
  });

  it('a source whose body breaks off mid-stream is a failed source: the next one holding the version is used', async () => {
    const origin = new MemoryObjectStore({ datacenter: 'dc-a', bucket: 'a' });
    const peer = new MemoryObjectStore({ datacenter: 'dc-c', bucket: 'c' });
    const good = 'x'.repeat(5000);
    await origin.put('.shardsync/staging/s1', Buffer.from(good));
    await peer.put(objectKeyOf('ds', 'big'), Buffer.from(good), { metadata: { [META.version]: formatVersion(v(7)), [META.sha256]: sha256Hex(good) } });
    origin.get = async () => {
      const broken = new PassThrough();
      broken.write(Buffer.from(good.slice(0, 100)));
      setImmediate(() => broken.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
      return { info: (await origin.head('.shardsync/staging/s1'))!, body: broken };
    };
    const { local, applier } = applierSetup({ 'dc-a': origin, 'dc-c': peer });
    const u: ShardUpdate = { ...put('big', v(7), good), payload: { kind: 'staged', datacenter: 'dc-a', bucket: 'a', key: '.shardsync/staging/s1' } };
    expect(await applier.apply(u)).toMatchObject({ result: 'applied', mode: 'stream' });
    expect(await body(local, objectKeyOf('ds', 'big'))).toBe(good);
  });

  it('referenced payloads of concurrent applies are transferred no more than the slots allow at once', async () => {
    let reading = 0;
    let peak = 0;
    const source = new MemoryObjectStore({
      datacenter: 'dc-a',
      bucket: 'a',
      beforeOperation: async (operation) => {
        if (operation !== 'get') return;
        reading += 1;
        peak = Math.max(peak, reading);
        await new Promise((resolve) => setTimeout(resolve, 20));
        reading -= 1;
      },
    });
    const local = new MemoryObjectStore({ datacenter: 'dc-b', bucket: 'b' });
    const tombstones = new TombstoneIndex(local, 60_000);
    const applier = new Applier({
      local,
      state: new LocalState(local, tombstones, 1000),
      tombstones,
      storeFor: () => source,
      peersOf: () => [],
      onBytes: () => undefined,
      slots: new TransferSlots(2),
    });
    const updates = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        await source.put(`.shardsync/staging/s${i}`, Buffer.from(`body ${i}`));
        const u: ShardUpdate = { ...put(`k${i}`, v(7), `body ${i}`), payload: { kind: 'staged', datacenter: 'dc-a', bucket: 'a', key: `.shardsync/staging/s${i}` } };
        return u;
      }),
    );
    const outcomes = await Promise.all(updates.map((u) => applier.apply(u)));
    expect(outcomes.map((o) => o.result)).toEqual(updates.map(() => 'applied'));
    expect(peak).toBe(2);
  });

  it('an apply waiting for a transfer slot stops as soon as the service closes, though the transfer holding the slot has not noticed yet', async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    // A source slow to notice the abort: its GET returns only once released.
    const source = new MemoryObjectStore({ datacenter: 'dc-a', bucket: 'a', beforeOperation: async (operation) => void (operation === 'get' ? await released : undefined) });
    const local = new MemoryObjectStore({ datacenter: 'dc-b', bucket: 'b' });
    const tombstones = new TombstoneIndex(local, 60_000);
    const applier = new Applier({ local, state: new LocalState(local, tombstones, 1000), tombstones, storeFor: () => source, peersOf: () => [], onBytes: () => undefined, slots: new TransferSlots(1) });
    const staged = async (i: number): Promise<ShardUpdate> => {
      await source.put(`.shardsync/staging/s${i}`, Buffer.from(`body ${i}`));
      return { ...put(`k${i}`, v(7), `body ${i}`), payload: { kind: 'staged', datacenter: 'dc-a', bucket: 'a', key: `.shardsync/staging/s${i}` } };
    };
    const [first, second] = [await staged(1), await staged(2)];
    const closing = new AbortController();
    const holding = applier.apply(first, closing.signal).catch((err: unknown) => err);
    const waiting = applier.apply(second, closing.signal).catch((err: unknown) => err);
    await new Promise((resolve) => setTimeout(resolve, 20));
    closing.abort(new Error('consumer closing'));
    const outcome = await Promise.race([waiting, new Promise((resolve) => setTimeout(() => resolve('still waiting for the slot'), 500))]);
    expect(outcome).toMatchObject({ message: 'consumer closing' });
    release();
    await holding;
    expect(local.peek(objectKeyOf('ds', 'k2'))).toBeUndefined();
  });

  it('a delete removes only the object it read: one written meanwhile is kept if newer, deleted if older', async () => {
    for (const [written, expected] of [
      [v(5), 'kept'],
      [v(2), 'deleted'],
    ] as const) {
      let interfere = true;
      const local = new MemoryObjectStore({
        datacenter: 'dc-b',
        bucket: 'b',
        beforeOperation: async (operation, key) => {
          if (operation !== 'delete' || key !== objectKeyOf('ds', 'a') || !interfere) return;
          interfere = false;
          // Another writer (a reconciler repair, a member that still held the partition) gets in
          // between this consumer's read of the key and its delete.
          await local.put(objectKeyOf('ds', 'a'), Buffer.from('other'), {
            metadata: { [META.version]: formatVersion(written), [META.sha256]: sha256Hex('other'), [META.eventId]: 'other' },
          });
        },
      });
      const tombstones = new TombstoneIndex(local, 60_000);
      const applier = new Applier({ local, state: new LocalState(local, tombstones, 1000), tombstones, storeFor: () => local, peersOf: () => [], onBytes: () => undefined, slots: new TransferSlots(4) });
      await applier.apply(put('a', v(1), 'one'));
      expect(await applier.apply(del('a', v(3)))).toMatchObject({ result: 'applied' });
      expect(await body(local, objectKeyOf('ds', 'a')), `an object of version ${written.physicalMs}`).toBe(expected === 'kept' ? 'other' : undefined);
      expect((await local.head(tombstoneKeyOf('ds', 'a')))?.metadata[META.version]).toBe(formatVersion(v(3)));
    }
  });
});
