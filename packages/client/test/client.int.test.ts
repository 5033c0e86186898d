import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it, onTestFinished } from 'vitest';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Topology } from '@shardsync/config';
import { decodeShardUpdate, formatVersion, type ShardUpdate } from '@shardsync/events';
import { createTestTopology, rawS3Client, readTopic, uniqueName, waitFor } from '@shardsync/testing';
// The real producer, started in this process the way its own tests start it.
import { OTHER_TOKEN, spawnTestProducer, startTestProducer, TOKEN } from '../../../services/producer/test/helpers.js';
import type { ShardsyncClientError} from '../src/index.js';
import { ShardsyncClient, type Accepted, type RetryEvent, type ShardsyncClientOptions } from '../src/index.js';
import { rejection } from './rejection.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function eventsOn(topology: Topology): Promise<ShardUpdate[]> {
  return (await readTopic(topology.kafka.topics.updates)).map((m) => decodeShardUpdate(m.value, m.headers));
}

/** A client of the test's producer, closed when the test ends. */
function clientOf(url: string, options: Partial<ShardsyncClientOptions> = {}): ShardsyncClient {
  const client = new ShardsyncClient({ baseUrl: url, token: TOKEN, ...options });
  onTestFinished(() => client.close());
  return client;
}

/** A 6 MiB body produced in 64 KiB chunks: larger than the inline limit, so it is staged. */
function largeBody(): { bytes: Buffer; open: () => Readable } {
  const bytes = randomBytes(6 * 1024 * 1024 + 11);
  const open = () =>
    Readable.from(
      (function* chunks() {
        for (let i = 0; i < bytes.length; i += 64 * 1024) yield bytes.subarray(i, i + 64 * 1024);
      })(),
    );
  return { bytes, open };
}

describe('ShardsyncClient against the real producer', () => {
  it('put, delete and announce become events carrying the answered ids, versions and digests', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const client = clientOf(producer.url);
    const dataset = topology.datasets[0]!.name;

    const small = Buffer.from('hello from the client');
    const smallKey = 'dir with space/ünïcode/a+b.txt';
    const putSmall = await client.put(dataset, smallKey, small, { contentType: 'text/plain', metadata: { owner: 'team-a' }, sha256: sha(small) });
    expect(putSmall).toMatchObject({ dataset, key: smallKey, sha256: sha(small), size: small.length });

    const large = largeBody();
    const putLarge = await client.put(dataset, 'shards/0001.bin', large.open, { contentLength: large.bytes.length });
    expect(putLarge).toMatchObject({ sha256: sha(large.bytes), size: large.bytes.length });

    const deleted = await client.delete(dataset, smallKey);
    expect(deleted).toMatchObject({ dataset, key: smallKey, sha256: null, size: 0 });

    // Change-data-capture: the object already sits in dc-b's store; the producer checks its size.
    const source = { datacenter: 'dc-b', bucket: topology.datacenters.find((d) => d.name === 'dc-b')!.s3.bucket, key: 'raw/cdc.bin' };
    const cdc = randomBytes(1000);
    await rawS3Client('dc-b').send(new PutObjectCommand({ Bucket: source.bucket, Key: source.key, Body: cdc }));
    const announced = await client.announce({ operation: 'put', dataset, key: 'cdc/obj.bin', source, size: cdc.length, sha256: sha(cdc), metadata: { origin: 'cdc' } });
    expect(announced).toMatchObject({ key: 'cdc/obj.bin', sha256: sha(cdc), size: cdc.length });

    const events = await eventsOn(topology);
    const byId = new Map(events.map((e) => [e.eventId, e]));
    expect(events).toHaveLength(4);
    const check = (accepted: Accepted) => {
      const event = byId.get(accepted.eventId);
      expect(event, accepted.key).toBeDefined();
      expect(formatVersion(event!.version)).toBe(accepted.version);
      expect(event).toMatchObject({ dataset: accepted.dataset, key: accepted.key, sha256: accepted.sha256, size: accepted.size });
      return event!;
    };
    const smallEvent = check(putSmall);
    expect(smallEvent.payload?.kind).toBe('inline');
    expect(smallEvent.metadata).toMatchObject({ owner: 'team-a', 'content-type': 'text/plain' });
    expect(check(putLarge).payload?.kind).toBe('staged');
    expect(check(deleted).operation).toBe('DELETE');
    const cdcEvent = check(announced);
    expect(cdcEvent.payload).toMatchObject({ kind: 'staged', datacenter: 'dc-b', bucket: source.bucket, key: source.key });
    expect(cdcEvent.metadata).toMatchObject({ origin: 'cdc' });
  });

  it('with batch on, concurrent calls share batch requests and become the same events, each with its own answer', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const dataset = topology.datasets[0]!.name;
    const client = clientOf(producer.url, { batch: true });
    const bodies = Array.from({ length: 40 }, (_, i) => randomBytes(100 + i));
    const calls = [
      ...bodies.map((b, i) => client.put(dataset, `batched/k${i}`, b, { metadata: { n: String(i) } })),
      client.delete(dataset, 'batched/gone'),
      client.put(dataset, 'batched/big', randomBytes(70 * 1024)), // over maxItemBytes: its own PUT
    ];
    const refused = rejection(client.put(dataset, 'batched/../escape', 'x'));
    const answers = await Promise.all(calls);
    expect((await refused).code).toBe('SHARDSYNC_INVALID_KEY');

    const events = new Map((await eventsOn(topology)).map((e) => [e.eventId, e]));
    expect(events.size).toBe(42);
    bodies.forEach((b, i) => {
      const event = events.get(answers[i]?.eventId ?? '');
      expect(event).toMatchObject({ key: `batched/k${i}`, operation: 'PUT', sha256: sha(b), size: b.length, metadata: { n: String(i) } });
      expect(answers[i]).toMatchObject({ key: `batched/k${i}`, sha256: sha(b), version: formatVersion(event!.version) });
    });
    expect(events.get(answers[40]?.eventId ?? '')).toMatchObject({ key: 'batched/gone', operation: 'DELETE' });
    const metrics = await (await fetch(`${producer.url}/metrics`)).text();
    const batchRequests = Number(/shardsync_producer_requests_total\{route="\/v1\/batch",method="POST",status="200"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    expect(batchRequests).toBeGreaterThan(0);
    expect(batchRequests).toBeLessThanOrEqual(4); // 42 calls in at most maxRequests batches
    expect(/shardsync_producer_requests_total\{route="\/v1\/objects\/:dataset\/\*",method="PUT",status="202"\} 1\b/.test(metrics)).toBe(true);
  });

  it('a call repeated with its idempotency key gets the first answer and emits one event', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const client = clientOf(producer.url);
    const dataset = topology.datasets[0]!.name;
    const idempotencyKey = uniqueName('call');
    const first = await client.put(dataset, 'k', 'same body', { idempotencyKey });
    const again = await client.put(dataset, 'k', 'same body', { idempotencyKey });
    expect(again).toEqual(first);
    expect(await eventsOn(topology)).toHaveLength(1);
  });

  it('a call that meets its own key in progress waits with 409 retries and gets the same answer', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const dataset = topology.datasets[0]!.name;
    const idempotencyKey = uniqueName('slow');
    const chunk = randomBytes(64 * 1024);

    // The first call's body arrives slowly: half now, the rest once the second call was turned away.
    const slow = new PassThrough();
    const first = clientOf(producer.url).put(dataset, 'slow.bin', slow, { idempotencyKey });
    slow.write(chunk);
    await waitFor(async () => ((await producer.metrics.bytesIn.get()).values[0]?.value ?? 0) > 0 || undefined, { what: 'the producer to receive the first bytes' });

    const retries: RetryEvent[] = [];
    const second = clientOf(producer.url, {
      retry: { maxAttempts: 50, initialDelayMs: 20, maxDelayMs: 200 },
      onRetry: (event) => {
        retries.push(event);
        if (retries.length === 1) slow.end(chunk);
      },
    }).put(dataset, 'slow.bin', () => Readable.from([chunk, chunk]), { idempotencyKey });

    const [a, b] = await Promise.all([first, second]);
    expect(b).toEqual(a);
    expect(a.size).toBe(2 * chunk.length);
    expect((retries[0]?.error as ShardsyncClientError).code).toBe('SHARDSYNC_IDEMPOTENCY_IN_PROGRESS');
    expect(await eventsOn(topology)).toHaveLength(1);
  });

  it('a refusal answered while a large body is still on its way reaches the caller with its code, at the first attempt', async () => {
    const topology = await createTestTopology();
    // In its own process: a producer in this event loop never showed the race below.
    const url = await spawnTestProducer(topology);
    const dataset = topology.datasets[0]!.name;
    const chunk = randomBytes(64 * 1024);
    const chunks = 1024; // 64 MiB: the answer comes long before the body could be sent
    const body = () =>
      Readable.from(
        (function* sixtyFourMiB() {
          for (let i = 0; i < chunks; i++) yield chunk;
        })(),
      );
    const retries: RetryEvent[] = [];
    const client = clientOf(url, { token: 'wrong-token-0123456789', onRetry: (event) => retries.push(event) });
    // Closing right after the early 401 let the connection's reset overtake the answer (EPIPE at the
    // client, retried: 19 retries in 12 calls); the producer now drops the rest of the body instead.
    for (let i = 0; i < 8; i++) {
      const err = await rejection(client.put(dataset, `refused/${i}`, body, { contentLength: chunks * chunk.length }));
      expect({ code: err.code, status: err.status }).toEqual({ code: 'SHARDSYNC_UNAUTHORIZED', status: 401 });
    }
    expect(retries).toEqual([]);
  });

  it('refusals carry the producer\'s code and status, and nothing reaches the topic', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const client = clientOf(producer.url);
    const dataset = topology.datasets[0]!.name;
    const cases: Array<[string, Promise<unknown>, string, number]> = [
      ['no valid token', clientOf(producer.url, { token: 'wrong-token-0123456789' }).put(dataset, 'k', 'x'), 'SHARDSYNC_UNAUTHORIZED', 401],
      ['dataset not granted', clientOf(producer.url, { token: OTHER_TOKEN }).delete(dataset, 'k'), 'SHARDSYNC_FORBIDDEN', 403],
      ['unknown dataset', client.put('no-such-dataset', 'k', 'x'), 'SHARDSYNC_UNKNOWN_DATASET', 404],
      ['dot-dot segment', client.put(dataset, 'a/../b', 'x'), 'SHARDSYNC_INVALID_KEY', 400],
      ['reserved prefix', client.delete(dataset, '.shardsync/x'), 'SHARDSYNC_INVALID_KEY', 400],
      ['checksum mismatch', client.put(dataset, 'k', 'x', { sha256: sha(Buffer.from('y')) }), 'SHARDSYNC_CHECKSUM_MISMATCH', 400],
      [
        'announced source missing',
        client.announce({ operation: 'put', dataset, key: 'k', source: { datacenter: 'dc-a', bucket: topology.datacenters[0]!.s3.bucket, key: 'absent' }, size: 1, sha256: sha(Buffer.from('x')) }),
        'SHARDSYNC_SOURCE_MISMATCH',
        422,
      ],
    ];
    for (const [what, call, code, status] of cases) {
      const err = await rejection(call);
      expect({ what, code: err.code, status: err.status, retriable: err.retriable }).toEqual({ what, code, status, retriable: false });
    }
    expect(await eventsOn(topology)).toEqual([]);
  });
});
