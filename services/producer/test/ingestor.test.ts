import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseTopology } from '@shardsync/config';
import { EventLogError, type EventSink, type OutgoingEvent } from '@shardsync/eventlog';
import { decodeShardUpdate, HybridLogicalClock } from '@shardsync/events';
import { sha256Hex } from '@shardsync/integrity';
import { MemoryObjectStore } from '@shardsync/objectstore';
import { createLogger } from '@shardsync/runtime';
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

function setup(options: { failKafka?: boolean } = {}) {
  const emitted: OutgoingEvent[] = [];
  const sink: EventSink = {
    append: async (_topic, events) => {
      if (options.failKafka === true) throw new EventLogError('SHARDSYNC_EVENTLOG_UNAVAILABLE', 'broker down', { retriable: true });
      emitted.push(...events);
    },
    ping: async () => undefined,
    close: async () => undefined,
  };
  const origin = new MemoryObjectStore({ datacenter: 'dc-a', bucket: 'bucket-a' });
  const ingestor = new Ingestor({
    topology,
    datacenter: 'dc-a',
    originStore: origin,
    storeFor: () => origin,
    sink,
    clock: new HybridLogicalClock({ producerId: 'unit' }),
    producerId: 'unit',
    idempotency: new Idempotency(new MemoryIdempotencyStore(), 60_000),
    metrics: new ProducerMetrics(),
    logger: createLogger('test', {}, 'silent'),
    options: { inlineMaxBytes: 1024, maxBodyBytes: 1024 * 1024 },
  });
  const decoded = () => emitted.map((e) => decodeShardUpdate(e.value, e.headers ?? {}));
  return { ingestor, origin, emitted, decoded };
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

  it('when Kafka refuses the event, the staged body is removed and the answer is 503', async () => {
    const { ingestor, origin } = setup({ failKafka: true });
    await expect(ingestor.put(put(Buffer.alloc(5000, 3)))).rejects.toMatchObject({ code: 'SHARDSYNC_UNAVAILABLE', status: 503, retriable: true });
    expect(origin.keys()).toEqual([]);
  });

  it('versions of successive updates of a key only grow', async () => {
    const { ingestor } = setup();
    const versions: string[] = [];
    for (let i = 0; i < 20; i += 1) versions.push((await ingestor.put(put(Buffer.from(`v${i}`)))).version);
    expect([...versions].sort()).toEqual(versions);
    expect(new Set(versions).size).toBe(20);
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

  it('an unknown dataset and an invalid key are refused before the body is read', async () => {
    const { ingestor } = setup();
    await expect(ingestor.put(put(Buffer.alloc(1), { dataset: 'nope' }))).rejects.toMatchObject({ code: 'SHARDSYNC_UNKNOWN_DATASET', status: 404 });
    await expect(ingestor.put(put(Buffer.alloc(1), { key: '.shardsync/x' }))).rejects.toMatchObject({ code: 'SHARDSYNC_INVALID_KEY', status: 400 });
  });
});
