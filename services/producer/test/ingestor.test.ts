import { Readable } from 'node:stream';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parseTopology } from '@shardsync/config';
import { EventLogError, type EventSink, type OutgoingEvent } from '@shardsync/eventlog';
import { clockLeaseKeyOf, decodeShardUpdate, formatVersion, HybridLogicalClock, parseVersion, type Clock } from '@shardsync/events';
import { sha256Hex } from '@shardsync/integrity';
import { AccessDeniedError, MemoryObjectStore, NoSuchBucketError, StoreUnavailableError } from '@shardsync/objectstore';
import { createLogger } from '@shardsync/runtime';
import { Budget } from '../src/admission.js';
import { ClockLease } from '../src/clock/lease.js';
import { ObjectLeaseStore } from '../src/clock/object-lease-store.js';
import { MemoryIdempotencyStore } from '../src/idempotency/memory-store.js';
import { Idempotency } from '../src/ingest/idempotency.js';
import { Ingestor } from '../src/ingest/ingestor.js';
import { ProducerMetrics } from '../src/metrics.js';

const topology = parseTopology(
  `
kafka: { brokers: ["127.0.0.1:1"] }
redis: { url: "redis://127.0.0.1:1" }
datacenters:
  - { name: dc-a, s3: { endpoint: "http://127.0.0.1:1", region: r, bucket: bucket-a } }
datasets:
  - { name: ds, datacenters: [dc-a] }
`,
  { env: {} },
);

const grant = { name: 'tests', datasets: '*' as const };

/** How the fake Kafka fails: before sending anything (`unsent`), or possibly after the broker appended (`uncertain`). */
type KafkaFailure = 'unsent' | 'uncertain' | 'refused';

interface SetupOptions {
  failKafka?: KafkaFailure;
  /** The clock and its lease. Default: a clock without a lease, which never reaches a bound. */
  clock?: { hlc: HybridLogicalClock; lease: Pick<ClockLease, 'whenRenewed'> };
  /** Default: a new empty store. */
  origin?: MemoryObjectStore;
  /** Default: room for 4 uploads. */
  uploads?: Budget;
  /** Default: 1 MiB. */
  maxBodyBytes?: number;
}

function setup(options: SetupOptions = {}) {
  const logger = createLogger('test', {}, 'silent');
  const emitted: OutgoingEvent[] = [];
  const kafka = { failure: options.failKafka };
  const sink: EventSink = {
    append: async (_topic, events) => {
      if (kafka.failure === 'refused') throw new EventLogError('SHARDSYNC_EVENTLOG_REJECTED', 'MESSAGE_TOO_LARGE', { retriable: false });
      if (kafka.failure !== undefined) throw new EventLogError('SHARDSYNC_EVENTLOG_UNAVAILABLE', 'broker down', { retriable: true, unsent: kafka.failure === 'unsent' });
      emitted.push(...events);
    },
    ping: async () => undefined,
    close: async () => undefined,
  };
  const origin = options.origin ?? new MemoryObjectStore({ datacenter: 'dc-a', bucket: 'bucket-a' });
  const sourceLookups: string[] = [];
  const ingestor = new Ingestor({
    topology,
    datacenter: 'dc-a',
    originStore: origin,
    sources: {
      head: (_datacenter, bucket, key) => {
        sourceLookups.push(`${bucket}/${key}`);
        return origin.head(key);
      },
    },
    sink,
    clock: options.clock?.hlc ?? new HybridLogicalClock({ producerId: 'unit' }),
    clockLease: options.clock?.lease ?? { whenRenewed: () => Promise.resolve() },
    producerId: 'unit',
    // Wired as the service wires it: a retry sends an event that may not have landed again.
    idempotency: new Idempotency(new MemoryIdempotencyStore(), 60_000, logger, {
      resend: (e) => sink.append(e.topic, [{ key: e.key, value: Buffer.from(e.value, 'base64'), headers: e.headers }]),
    }),
    uploads: options.uploads ?? new Budget(4, 'uploads'),
    metrics: new ProducerMetrics(),
    logger,
    options: { inlineMaxBytes: 1024, maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024, bodyIdleTimeoutMs: 60_000 },
  });
  const decoded = () => emitted.map((e) => decodeShardUpdate(e.value, e.headers ?? {}));
  return { ingestor, origin, emitted, decoded, sourceLookups, kafka };
}

/** A producer whose clock reads `wall` and keeps a lease in `origin`, as the service wires them. */
async function leasedClock(origin: MemoryObjectStore, wall: Clock): Promise<{ hlc: HybridLogicalClock; lease: ClockLease }> {
  const lease = await ClockLease.acquire({ store: new ObjectLeaseStore(origin, 'unit'), clock: wall, logger: createLogger('test', {}, 'silent') });
  onTestFinished(() => lease.close());
  return { hlc: new HybridLogicalClock({ producerId: 'unit', clock: wall, lease }), lease };
}

/** A producer whose clock lease cannot be persisted (S3 down) and whose wall clock is already past the lease's bound. */
async function pastUnpersistableLease() {
  const wall = { ms: 1_718_000_000_000, now: () => wall.ms };
  const origin = new MemoryObjectStore({ datacenter: 'dc-a', bucket: 'bucket-a' });
  const producer = setup({ origin, clock: await leasedClock(origin, wall) });
  origin.injectFault({ operation: 'put', key: clockLeaseKeyOf('unit'), error: () => new StoreUnavailableError('S3 is down'), times: Infinity });
  wall.ms += 60_000;
  return producer;
}

const put = (body: Buffer, extra: Partial<Parameters<Ingestor['put']>[0]> = {}) => ({
  grant,
  dataset: 'ds',
  key: 'k',
  body: Readable.from([body]),
  contentLength: body.length,
  metadata: {},
  ...extra,
});

describe('Ingestor', () => {
  it('a body up to the inline limit travels inside the event; a larger one is staged and referenced', async () => {
    const { ingestor, origin, decoded } = setup();
    await ingestor.put(put(Buffer.alloc(1024, 1)));
    const big = Buffer.alloc(5000, 2);
    await ingestor.put(put(big, { key: 'big' }));
    const [small, large] = decoded();
    expect(small?.payload?.kind).toBe('inline');
    expect(large?.payload).toMatchObject({ kind: 'staged', datacenter: 'dc-a', bucket: 'bucket-a' });
    if (large?.payload?.kind !== 'staged') throw new Error('expected staged');
    expect((await origin.head(large.payload.key))?.size).toBe(5000);
    expect(large.sha256).toBe(sha256Hex(big));
  });

  it('a declared digest that does not match emits nothing and stages nothing', async () => {
    const { ingestor, origin, emitted } = setup();
    const wrong = sha256Hex('something else');
    await expect(ingestor.put(put(Buffer.alloc(100), { declaredSha256: wrong }))).rejects.toMatchObject({ code: 'SHARDSYNC_CHECKSUM_MISMATCH', status: 400 });
    await expect(ingestor.put(put(Buffer.alloc(5000), { declaredSha256: wrong }))).rejects.toMatchObject({ code: 'SHARDSYNC_CHECKSUM_MISMATCH', status: 400 });
    expect(emitted).toEqual([]);
    expect(origin.keys()).toEqual([]);
  });

  it('when the event certainly never reached Kafka, the staged body is removed and the answer is 503', async () => {
    const { ingestor, origin } = setup({ failKafka: 'unsent' });
    await expect(ingestor.put(put(Buffer.alloc(5000, 3)))).rejects.toMatchObject({ code: 'SHARDSYNC_UNAVAILABLE', status: 503, retriable: true });
    expect(origin.keys()).toEqual([]);
  });

  it('when the send failed part-way (the broker may have appended it), the staged body stays for the collector; the answer is 503', async () => {
    const { ingestor, origin } = setup({ failKafka: 'uncertain' });
    await expect(ingestor.put(put(Buffer.alloc(5000, 3)))).rejects.toMatchObject({ code: 'SHARDSYNC_UNAVAILABLE', status: 503 });
    expect(origin.keys()).toHaveLength(1);
    expect(origin.keys()[0]).toMatch(/^\.shardsync\/staging\/events\//);
  });

  it('a retry of an update whose send may have landed sends that very event again (same id, version and bytes), never a second update', async () => {
    const { ingestor, origin, emitted, kafka } = setup({ failKafka: 'uncertain' });
    const request = () => put(Buffer.alloc(5000, 3), { idempotencyKey: 'retry-1' });
    const failure: unknown = await ingestor.put(request()).catch((err: unknown) => err);
    expect(failure).toMatchObject({ code: 'SHARDSYNC_UNAVAILABLE', status: 503 });
    expect(String(failure)).toMatch(/may be appended all the same/);
    await new Promise((resolve) => setImmediate(resolve)); // the record the retry needs is written at the end of the turn
    kafka.failure = undefined;
    const answer = await ingestor.put(request());
    expect(emitted).toHaveLength(1);
    const [event] = emitted;
    const update = decodeShardUpdate(event?.value ?? Buffer.alloc(0), event?.headers ?? {});
    expect(answer).toEqual({ eventId: update.eventId, dataset: 'ds', key: 'k', version: formatVersion(update.version), sha256: update.sha256, size: 5000 });
    // It refers to the body staged by the first attempt, which is still there; nothing else was staged.
    expect(origin.keys()).toEqual([update.payload?.kind === 'staged' ? update.payload.key : 'not staged']);
    expect(await ingestor.put(request())).toEqual(answer);
    expect(emitted).toHaveLength(1);
  });

  it('a body to stage while the producer streams its most uploads is refused with 503 and nothing is staged; inline bodies still go', async () => {
    const uploads = new Budget(1, 'uploads into the staging area');
    const { ingestor, origin, emitted } = setup({ uploads });
    const held = uploads.take(1);
    await expect(ingestor.put(put(Buffer.alloc(5000, 3)))).rejects.toMatchObject({ code: 'SHARDSYNC_UNAVAILABLE', status: 503, retriable: true });
    expect(origin.keys()).toEqual([]);
    await ingestor.put(put(Buffer.alloc(10, 3)));
    expect(emitted).toHaveLength(1);
    held();
    await ingestor.put(put(Buffer.alloc(5000, 3)));
    expect(emitted).toHaveLength(2);
    expect(uploads.used).toBe(0);
  });

  it('a send Kafka refused outright (too large, not authorised) is a 500, not a retriable 503 whose retries would send it again', async () => {
    const { ingestor } = setup({ failKafka: 'refused' });
    await expect(ingestor.put(put(Buffer.alloc(10, 3), { idempotencyKey: 'refused-1' }))).rejects.toMatchObject({ code: 'SHARDSYNC_INTERNAL', status: 500, retriable: false });
  });

  it('versions of successive updates of a key only grow', async () => {
    const { ingestor } = setup();
    const versions: string[] = [];
    for (let i = 0; i < 20; i += 1) versions.push((await ingestor.put(put(Buffer.from(`v${i}`)))).version);
    expect([...versions].sort()).toEqual(versions);
    expect(new Set(versions).size).toBe(20);
  });

  it('an update whose version reaches the bound of the clock lease waits for its renewal and is accepted', async () => {
    const wall = { ms: 1_718_000_000_000, now: () => wall.ms };
    const origin = new MemoryObjectStore({ datacenter: 'dc-a', bucket: 'bucket-a' });
    const { ingestor } = setup({ origin, clock: await leasedClock(origin, wall) });
    // Past the bound before the background renewal ran (a wall clock stepping ahead, a stalled timer).
    wall.ms += 60_000;
    const accepted = await ingestor.put(put(Buffer.from('late')));
    expect(parseVersion(accepted.version).physicalMs).toBe(wall.ms);
  });

  it('an update past the bound of a clock lease that cannot be persisted is refused with 503 saying why, and nothing is emitted', async () => {
    const { ingestor, emitted } = await pastUnpersistableLease();
    const refused = ingestor.put(put(Buffer.from('late')));
    await expect(refused).rejects.toMatchObject({ code: 'SHARDSYNC_UNAVAILABLE', status: 503, retriable: true });
    await expect(refused).rejects.toThrow(/cannot persist its clock lease at dc-a:bucket-a\/\.shardsync\/producers\/unit\/clock \(S3 is down\)/);
    expect(emitted).toEqual([]);
  });

  it('a staged body whose update the clock lease refused a version is removed: no event can refer to it', async () => {
    const { ingestor, emitted, origin } = await pastUnpersistableLease();
    await expect(ingestor.put(put(Buffer.alloc(5000, 3)))).rejects.toMatchObject({ code: 'SHARDSYNC_UNAVAILABLE', status: 503 });
    expect(emitted).toEqual([]);
    expect(origin.keys().filter((k) => k.startsWith('.shardsync/staging/'))).toEqual([]);
  });

  it('an announced source must exist with the announced size', async () => {
    const { ingestor, origin, decoded } = setup();
    await origin.put('written-by-service/a.bin', Buffer.alloc(10));
    const announce = (size: number) =>
      ingestor.announce({ grant, body: { dataset: 'ds', key: 'a.bin', operation: 'put', source: { datacenter: 'dc-a', bucket: 'bucket-a', key: 'written-by-service/a.bin' }, size, sha256: sha256Hex(Buffer.alloc(10)) } });
    await expect(announce(11)).rejects.toMatchObject({ code: 'SHARDSYNC_SOURCE_MISMATCH', status: 422 });
    await announce(10);
    expect(decoded()[0]?.payload).toMatchObject({ kind: 'staged', key: 'written-by-service/a.bin' });
  });

  it("an announced source in a bucket shardsync may not read or that does not exist is the announcer's mistake (422), not a 500", async () => {
    const { ingestor, origin, emitted } = setup();
    await origin.put('written-by-service/a.bin', Buffer.alloc(10));
    const announce = () =>
      ingestor.announce({ grant, body: { dataset: 'ds', key: 'a.bin', operation: 'put', source: { datacenter: 'dc-a', bucket: 'bucket-a', key: 'written-by-service/a.bin' }, size: 10, sha256: sha256Hex(Buffer.alloc(10)) } });
    for (const error of [new AccessDeniedError('HeadObject was refused (AccessDenied)'), new NoSuchBucketError('HeadObject failed: NoSuchBucket')]) {
      origin.injectFault({ operation: 'head', key: 'written-by-service/a.bin', error: () => error, times: 1 });
      const err: unknown = await announce().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'SHARDSYNC_SOURCE_MISMATCH', status: 422 });
    }
    // A store that is down is still 503: the same announcement may succeed later.
    origin.injectFault({ operation: 'head', key: 'written-by-service/a.bin', error: () => new StoreUnavailableError('S3 is down'), times: 1 });
    await expect(announce()).rejects.toMatchObject({ code: 'SHARDSYNC_UNAVAILABLE', status: 503 });
    expect(emitted).toEqual([]);
  });

  it('an announced put with metadata the event cannot carry is refused with 400 naming the problem, and nothing is emitted', async () => {
    const { ingestor, origin, emitted } = setup();
    await origin.put('written-by-service/a.bin', Buffer.alloc(10));
    const announce = (metadata: Record<string, string>) =>
      ingestor.announce({
        grant,
        body: { dataset: 'ds', key: 'a.bin', operation: 'put', source: { datacenter: 'dc-a', bucket: 'bucket-a', key: 'written-by-service/a.bin' }, size: 10, sha256: sha256Hex(Buffer.alloc(10)), metadata },
      });
    const cases: Array<[Record<string, string>, string]> = [
      [{ Owner: 'team-a' }, '"Owner" must be lowercase'],
      [{ 'shardsync-version': '1' }, '"shardsync-version" is reserved'],
      [{ big: 'x'.repeat(2000) }, 'the limit is 1536'],
      [{ note: 'café' }, 'printable ASCII'],
      // An own "__proto__" entry, as JSON.parse makes it: refused, not dropped by a copy.
      [JSON.parse('{"__proto__": "x"}') as Record<string, string>, 'metadata key "__proto__" is not allowed'],
    ];
    for (const [metadata, problem] of cases) {
      const err = await announce(metadata).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'SHARDSYNC_INVALID_REQUEST', status: 400 });
      expect((err as Error).message).toContain(problem);
    }
    expect(emitted).toEqual([]);
    await announce({ owner: 'team-a' });
    expect(emitted).toHaveLength(1);
  });

  it('an announced source key or bucket no store could take is refused with 400 before any store is asked', async () => {
    const { ingestor, emitted, sourceLookups } = setup();
    const announce = (bucket: string, key: string) =>
      ingestor.announce({ grant, body: { dataset: 'ds', key: 'a.bin', operation: 'put', source: { datacenter: 'dc-a', bucket, key }, size: 1, sha256: sha256Hex(Buffer.alloc(1)) } });
    const cases: Array<[string, string, string]> = [
      ['bucket-a', '', 'source.key'],
      ['bucket-a', 'k'.repeat(1025), 'source.key is 1025 UTF-8 bytes'],
      ['bucket-a', `${'é'.repeat(513)}`, 'source.key is 1026 UTF-8 bytes'],
      ['bucket-a', '.shardsync/staging/events/x', 'reserved'],
      ['bucket-a', '.shardsync/tombstones/ds/a.bin', 'reserved'],
      // What stores collapse into the reserved prefix (s3proxy reads these as ".shardsync/..."):
      ['bucket-a', './.shardsync/staging/events/x', 'segment'],
      ['bucket-a', 'x/../.shardsync/staging/events/x', 'segment'],
      ['bucket-a', '/.shardsync/staging/events/x', 'leading "/"'],
      ['bucket-a', 'out//a.bin', 'segment'],
      ['Bucket-A', 'k', 'not a valid S3 bucket name'],
      ['ab', 'k', 'not a valid S3 bucket name'],
      ['b'.repeat(64), 'k', 'not a valid S3 bucket name'],
      ['-bucket', 'k', 'not a valid S3 bucket name'],
      ['bucket.', 'k', 'not a valid S3 bucket name'],
      ['my..bucket', 'k', 'not a valid S3 bucket name'],
      ['bucket/../other', 'k', 'not a valid S3 bucket name'],
      ['bucket_a', 'k', 'not a valid S3 bucket name'],
    ];
    for (const [bucket, key, problem] of cases) {
      const err = await announce(bucket, key).catch((e: unknown) => e);
      expect({ bucket, key: key.slice(0, 40), err }).toMatchObject({ bucket, key: key.slice(0, 40), err: { code: 'SHARDSYNC_INVALID_REQUEST', status: 400 } });
      expect((err as Error).message).toContain(problem);
    }
    expect(sourceLookups).toEqual([]);
    expect(emitted).toEqual([]);
  });

  it('a refused key or dataset of a megabyte is quoted by its beginning only, so a batch answer quoting it stays small', async () => {
    const { ingestor } = setup();
    const huge = 'x'.repeat(1024 * 1024);
    for (const extra of [{ key: huge }, { dataset: huge }]) {
      const err: unknown = await ingestor.put(put(Buffer.alloc(1), extra)).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: expect.any(Number) as number });
      expect(String(err).length).toBeLessThan(400);
      expect(String(err)).toContain(`"${'x'.repeat(80)}…"`);
    }
  });

  it('an unknown dataset and an invalid key are refused before the body is read', async () => {
    const { ingestor } = setup();
    await expect(ingestor.put(put(Buffer.alloc(1), { dataset: 'nope' }))).rejects.toMatchObject({ code: 'SHARDSYNC_UNKNOWN_DATASET', status: 404 });
    await expect(ingestor.put(put(Buffer.alloc(1), { key: '.shardsync/x' }))).rejects.toMatchObject({ code: 'SHARDSYNC_INVALID_KEY', status: 400 });
  });

  it("refuses a key whose delete marker would exceed S3's 1024-byte key limit, and emits nothing", async () => {
    const { ingestor, emitted } = setup();
    // Dataset "ds": its tombstones are ".shardsync/tombstones/ds/<key>", 25 bytes before the key.
    const longest = 'k'.repeat(1024 - '.shardsync/tombstones/ds/'.length);
    const err: unknown = await ingestor.put(put(Buffer.alloc(1), { key: `${longest}k` })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SHARDSYNC_INVALID_KEY', status: 400 });
    expect(String(err)).toContain('is 1000 UTF-8 bytes; keys of dataset "ds" may have at most 999');
    expect(emitted).toHaveLength(0);
    await expect(ingestor.put(put(Buffer.alloc(1), { key: longest }))).resolves.toMatchObject({ key: longest });
  });

  it('a body over the size limit is refused with 413 however it is sent, also when the limit is below the inline limit', async () => {
    const { ingestor, emitted } = setup({ maxBodyBytes: 100 });
    const body = Buffer.alloc(500, 1);
    // Without Content-Length (chunked), in several chunks, and as a batch item's whole body.
    const chunked = put(body, { contentLength: undefined, body: Readable.from([body.subarray(0, 250), body.subarray(250)]) });
    await expect(ingestor.put(chunked)).rejects.toMatchObject({ code: 'SHARDSYNC_BODY_TOO_LARGE', status: 413 });
    await expect(ingestor.put(put(body, { body }))).rejects.toMatchObject({ code: 'SHARDSYNC_BODY_TOO_LARGE', status: 413 });
    expect(emitted).toEqual([]);
    await ingestor.put(put(Buffer.alloc(100, 1), { contentLength: undefined }));
    expect(emitted).toHaveLength(1);
  });
});
