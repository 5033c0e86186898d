import { describe, expect, it } from 'vitest';
import { createInlinePayload, formatVersion, META, objectKeyOf, type PutShardUpdate, type Version } from '@shardsync/events';
import { sha256Hex } from '@shardsync/integrity';
import { AccessDeniedError, MemoryObjectStore, NoSuchBucketError, ObjectNotFoundError, StoreUnavailableError } from '@shardsync/objectstore';
import { Applier } from '../src/apply/applier.js';
import { TransferSlots } from '../src/apply/transfer-slots.js';
import { LocalAccessDeniedError, LocalBucketMissingError } from '../src/apply/errors.js';
import { LocalStore } from '../src/apply/local-store.js';
import { LocalState } from '../src/state/local-state.js';
import { TombstoneIndex } from '../src/state/tombstone-index.js';

const v = (physicalMs: number): Version => ({ physicalMs, logical: 0, producerId: 'p1' });
const noBucket = () => new NoSuchBucketError('PutObject failed: bucket "bucket-b" does not exist at http://127.0.0.1:1; create it or fix the topology');

function put(key: string, body: string): PutShardUpdate {
  return {
    eventId: `e-${key}`,
    dataset: 'ds',
    key,
    operation: 'PUT',
    version: v(10),
    size: Buffer.byteLength(body),
    sha256: sha256Hex(body),
    payload: createInlinePayload(Buffer.from(body)),
    originDatacenter: 'dc-a',
    producerId: 'p1',
    producedAtMs: 0,
    metadata: {},
  };
}

describe('LocalStore', () => {
  it('a missing bucket of this datacenter is a retriable error that names the datacenter and the bucket', async () => {
    const inner = new MemoryObjectStore({ datacenter: 'dc-b', bucket: 'bucket-b' });
    const local = new LocalStore(inner);
    inner.injectFault({ operation: '*', error: noBucket, times: Infinity });
    const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);
    const listing = async () => {
      for await (const _entry of local.list({ prefix: '.shardsync/' })) break;
    };
    const errors = await Promise.all([failure(local.put('k', Buffer.from('x'))), failure(local.delete('k')), failure(listing()), failure(local.ping())]);
    for (const err of errors) {
      expect(err).toBeInstanceOf(LocalBucketMissingError);
      expect(err).toMatchObject({ code: 'SHARDSYNC_NO_SUCH_BUCKET', retriable: true, datacenter: 'dc-b', bucket: 'bucket-b' });
      expect((err as Error).message).toMatch(/^bucket "bucket-b" of datacenter dc-b does not exist/);
    }
  });

  it('access refused by this datacenter\'s store (expired credentials, clock skew) is retriable, so updates wait instead of being dead-lettered', async () => {
    const inner = new MemoryObjectStore({ datacenter: 'dc-b', bucket: 'bucket-b' });
    const local = new LocalStore(inner);
    inner.injectFault({ operation: '*', error: () => new AccessDeniedError('PutObject failed: AccessDenied (HTTP 403)'), times: 2 });
    const listing = async () => {
      for await (const _entry of local.list({ prefix: '.shardsync/tombstones/' })) break;
    };
    const failures = await Promise.all([local.put('k', Buffer.from('x')).catch((e: unknown) => e), listing().catch((e: unknown) => e)]);
    for (const err of failures) {
      expect(err).toBeInstanceOf(LocalAccessDeniedError);
      expect(err).toMatchObject({ code: 'SHARDSYNC_LOCAL_ACCESS_DENIED', retriable: true, datacenter: 'dc-b', bucket: 'bucket-b' });
    }
    await local.put('k', Buffer.from('x'));
  });

  it('every other failure keeps the classification of the object store', async () => {
    const inner = new MemoryObjectStore({ datacenter: 'dc-b', bucket: 'bucket-b' });
    const local = new LocalStore(inner);
    inner.injectFault({ operation: 'put', error: () => new StoreUnavailableError('injected outage') });
    await expect(local.put('k', Buffer.from('x'))).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(local.get('missing')).rejects.toBeInstanceOf(ObjectNotFoundError);
    await local.put('k', Buffer.from('x'));
    expect((await local.head('k'))?.size).toBe(1);
  });

  it("a staged payload is not blamed on its sources when this datacenter's bucket is missing", async () => {
    const origin = new MemoryObjectStore({ datacenter: 'dc-a', bucket: 'bucket-a' });
    const inner = new MemoryObjectStore({ datacenter: 'dc-b', bucket: 'bucket-b' });
    const local = new LocalStore(inner);
    const tombstones = new TombstoneIndex(local, 60_000);
    const applier = new Applier({ local, state: new LocalState(local, tombstones, 100), tombstones, storeFor: () => origin, peersOf: () => [], onBytes: () => undefined, slots: new TransferSlots(4) });
    const body = 'x'.repeat(5000);
    await origin.put('.shardsync/staging/s1', Buffer.from(body));
    const staged: PutShardUpdate = { ...put('big', body), payload: { kind: 'staged', datacenter: 'dc-a', bucket: 'bucket-a', key: '.shardsync/staging/s1' } };
    inner.injectFault({ operation: 'put', error: noBucket });
    // Not SHARDSYNC_SOURCE_UNAVAILABLE, which is dead-lettered after SHARDSYNC_SOURCE_WAIT_MS.
    await expect(applier.apply(staged)).rejects.toBeInstanceOf(LocalBucketMissingError);
    // Once the bucket is there, the same update applies.
    expect(await applier.apply(staged)).toMatchObject({ result: 'applied', mode: 'stream' });
    expect(inner.peek(objectKeyOf('ds', 'big'))?.info.metadata[META.version]).toBe(formatVersion(v(10)));
  });
});
