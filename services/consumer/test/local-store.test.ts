import { describe, expect, it, vi } from 'vitest';
import { readDeadLetter, type OutgoingEvent } from '@shardsync/eventlog';
import { createInlinePayload, formatVersion, META, objectKeyOf, type PutShardUpdate, type Version } from '@shardsync/events';
import { sha256Hex } from '@shardsync/integrity';
import {
  AccessDeniedError,
  MemoryObjectStore,
  NoSuchBucketError,
  ObjectNotFoundError,
  RequestRejectedError,
  StoreClosedError,
  StoreUnavailableError,
  UnexpectedStoreError,
} from '@shardsync/objectstore';
import { createLogger } from '@shardsync/runtime';
import { Applier } from '../src/apply/applier.js';
import { TransferSlots } from '../src/apply/transfer-slots.js';
import { LocalAccessDeniedError, LocalBucketMissingError } from '../src/apply/errors.js';
import { LocalStore } from '../src/apply/local-store.js';
import { LocalState } from '../src/state/local-state.js';
import { TombstoneIndex } from '../src/state/tombstone-index.js';
import { ConsumerMetrics } from '../src/metrics.js';
import { event, fakeBatch, processor, put as processorPut } from './processor-fixtures.js';

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

describe("LocalStore: failures of this datacenter's store that are not the event's fault", () => {
  const unrecognised = () => new UnexpectedStoreError('PutObject of key "ds/k" in bucket "bucket-b" failed unexpectedly: Parse Error: Expected HTTP/', { cause: Object.assign(new Error('Parse Error'), { code: 'HPE_INVALID_CONSTANT' }) });
  const closed = () => new StoreClosedError('PutObject on the object store of datacenter dc-b after close()');
  const rejected = () => new RequestRejectedError('PutObject was rejected with HTTP 400 (AuthorizationHeaderMalformed)', { statusCode: 400 });

  it.each([
    ['an error the S3 classifier does not recognise', unrecognised],
    ['the store client reporting it is closed', closed],
    ['a request the server rejects for no reason tied to the event', rejected],
  ])('%s makes the partition wait and retry, never dead-letter, and the log names the datacenter and the bucket', async (_what, failure) => {
    const inner = new MemoryObjectStore({ datacenter: 'dc-b', bucket: 'bucket-b' });
    const local = new LocalStore(inner);
    const tombstones = new TombstoneIndex(local, 60_000);
    const applier = new Applier({ local, state: new LocalState(local, tombstones, 100), tombstones, storeFor: () => inner, peersOf: () => [], onBytes: () => undefined, slots: new TransferSlots(4) });
    inner.injectFault({ operation: 'put', error: failure, times: 2 });
    const letters: OutgoingEvent[] = [];
    const logger = createLogger('test', {}, 'silent');
    const errors = vi.spyOn(logger, 'error');
    const metrics = new ConsumerMetrics();
    const batch = fakeBatch([event(processorPut('k', 1))]);

    await processor((u) => applier.apply(u), letters, logger, { metrics }).handle(batch);

    expect(letters).toEqual([]);
    expect(batch.marked).toEqual([batch.events[0]?.offset]);
    expect(inner.peek(objectKeyOf('ds', 'k'))?.info.metadata[META.version]).toBe(formatVersion({ physicalMs: 1, logical: 0, producerId: 'p' }));
    expect((await metrics.retries.get()).values).toEqual([expect.objectContaining({ labels: { code: 'SHARDSYNC_LOCAL_STORE_FAILED' }, value: 2 })]);
    expect(errors).toHaveBeenCalledTimes(2);
    const [fields, message] = errors.mock.calls[0] as unknown as [Record<string, unknown>, string];
    expect(fields).toMatchObject({ code: 'SHARDSYNC_LOCAL_STORE_FAILED', bucket: 'bucket-b', dataset: 'ds', key: 'k', cause: failure().message });
    expect(message).toMatch(/^the store of datacenter dc-b failed on bucket "bucket-b"/);
  });

  it('a store that refuses the object itself (too large for it) dead-letters the update instead of stopping the partition for good', async () => {
    const inner = new MemoryObjectStore({ datacenter: 'dc-b', bucket: 'bucket-b' });
    const local = new LocalStore(inner);
    const tombstones = new TombstoneIndex(local, 60_000);
    const applier = new Applier({ local, state: new LocalState(local, tombstones, 100), tombstones, storeFor: () => inner, peersOf: () => [], onBytes: () => undefined, slots: new TransferSlots(4) });
    const tooLarge = Object.assign(new Error('Your proposed upload exceeds the maximum allowed size'), { name: 'EntityTooLarge' });
    inner.injectFault({ operation: 'put', error: () => new RequestRejectedError('PutObject was rejected with HTTP 400 (EntityTooLarge)', { statusCode: 400, cause: tooLarge }), times: 1 });
    const letters: OutgoingEvent[] = [];
    const batch = fakeBatch([event(processorPut('k', 1))]);

    await processor((u) => applier.apply(u), letters).handle(batch);

    expect(letters.map((l) => readDeadLetter(l.headers ?? {})?.code)).toEqual(['SHARDSYNC_STORE_REQUEST_REJECTED']);
    expect(batch.marked).toEqual([batch.events[0]?.offset]);
  });

  it('a failure the event itself causes (inline bytes that are not its SHA-256) is still dead-lettered', async () => {
    const inner = new MemoryObjectStore({ datacenter: 'dc-b', bucket: 'bucket-b' });
    const local = new LocalStore(inner);
    const tombstones = new TombstoneIndex(local, 60_000);
    const applier = new Applier({ local, state: new LocalState(local, tombstones, 100), tombstones, storeFor: () => inner, peersOf: () => [], onBytes: () => undefined, slots: new TransferSlots(4) });
    const letters: OutgoingEvent[] = [];
    const update = { ...put('k', 'body'), eventId: '00000000-0000-4000-8000-000000000001', sha256: sha256Hex('other bytes') };

    await processor((u) => applier.apply(u), letters).handle(fakeBatch([event(update)]));

    expect(letters.map((l) => readDeadLetter(l.headers ?? {})?.code)).toEqual(['SHARDSYNC_CHECKSUM_MISMATCH']);
    expect(inner.peek(objectKeyOf('ds', 'k'))).toBeUndefined();
  });
});
