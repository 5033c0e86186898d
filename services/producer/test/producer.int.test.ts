import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Agent, request, type IncomingMessage } from 'node:http';
import { describe, expect, it, onTestFinished } from 'vitest';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { decodeShardUpdate, type ShardUpdate } from '@shardsync/events';
import { createTestTopology, rawS3Client, readTopic, uniqueName, waitFor } from '@shardsync/testing';
import { auth, OTHER_TOKEN, rawRequest, serviceWrittenObject, startTestProducer } from './helpers.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function eventsOn(topic: string): Promise<ShardUpdate[]> {
  return (await readTopic(topic)).map((m) => decodeShardUpdate(m.value, m.headers));
}

/** PUTs an endless chunked body (1 MiB chunks) until the producer answers; its status, error code and the MiB sent. */
async function streamUntilAnswered(baseUrl: string, path: string): Promise<{ status: number | undefined; error: string | undefined; sentMiB: number }> {
  const url = new URL(baseUrl);
  const req = request({ host: url.hostname, port: url.port, method: 'PUT', path, agent: false, headers: { ...auth(), 'transfer-encoding': 'chunked' } });
  const answered = once(req, 'response') as Promise<[IncomingMessage]>;
  let sent = 0;
  let stop = false;
  void answered.then(() => (stop = true), () => (stop = true));
  const chunk = Buffer.alloc(1024 * 1024, 1);
  // Never more than twice the limit: a producer that reads on without answering fails the test.
  while (!stop && sent < 128) {
    if (!req.write(chunk)) await Promise.race([once(req, 'drain'), answered]);
    sent += 1;
  }
  const [res] = await answered;
  let text = '';
  for await (const part of res) text += String(part);
  req.destroy();
  return { status: res.statusCode, error: (JSON.parse(text) as { error?: string }).error, sentMiB: sent };
}

describe('producer', () => {
  it('a small put is answered 202 after Kafka acknowledged an inline event with the right SHA-256', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const dataset = topology.datasets[0]!.name;
    const body = Buffer.from('hello shardsync');
    const res = await fetch(`${producer.url}/v1/objects/${dataset}/dir/a.txt`, { method: 'PUT', headers: { ...auth(), 'content-type': 'text/plain', 'x-shardsync-meta-owner': 'team-a' }, body });
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as { eventId: string; version: string; sha256: string; size: number };
    expect(accepted).toMatchObject({ dataset, key: 'dir/a.txt', sha256: sha(body), size: body.length });
    const events = await eventsOn(topology.kafka.topics.updates);
    expect(events).toHaveLength(1);
    const event = events[0]!;
    expect(event).toMatchObject({ eventId: accepted.eventId, operation: 'PUT', sha256: sha(body), originDatacenter: 'dc-a' });
    expect(event.metadata).toMatchObject({ owner: 'team-a', 'content-type': 'text/plain' });
    expect(event.payload?.kind).toBe('inline');
  });

  it('a large put is staged in the origin store and referenced, not inlined', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const dataset = topology.datasets[0]!.name;
    const body = randomBytes(20 * 1024 * 1024 + 17);
    const res = await fetch(`${producer.url}/v1/objects/${dataset}/shard-0001.bin`, { method: 'PUT', headers: auth(), body });
    expect(res.status).toBe(202);
    const [event] = await eventsOn(topology.kafka.topics.updates);
    expect(event?.sha256).toBe(sha(body));
    expect(event?.payload?.kind).toBe('staged');
    if (event?.payload?.kind !== 'staged') throw new Error('expected a staged payload');
    expect(event.payload.datacenter).toBe('dc-a');
    const head = await rawS3Client('dc-a').send(new HeadObjectCommand({ Bucket: event.payload.bucket, Key: event.payload.key }));
    expect(head.ContentLength).toBe(body.length);
  });

  it('a retry with the same Idempotency-Key returns the same event id and version and emits one event', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const dataset = topology.datasets[0]!.name;
    const idempotencyKey = uniqueName('request');
    const send = () => fetch(`${producer.url}/v1/objects/${dataset}/k`, { method: 'PUT', headers: { ...auth(), 'idempotency-key': idempotencyKey }, body: 'same body' });
    const first = (await (await send()).json()) as { eventId: string; version: string };
    const second = (await (await send()).json()) as { eventId: string; version: string };
    expect(second).toEqual(first);
    expect(await eventsOn(topology.kafka.topics.updates)).toHaveLength(1);
  });

  it('the same Idempotency-Key with another body of the same length is 422 and emits nothing, for inline and staged bodies', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const dataset = topology.datasets[0]!.name;
    const large = randomBytes(64 * 1024); // over the test producer's inline limit: staged
    const cases = [
      { key: 'idem/small', body: Buffer.from('body x'), other: Buffer.from('body y') },
      { key: 'idem/large', body: large, other: Buffer.concat([large.subarray(0, -1), Buffer.from([large.at(-1)! ^ 1])]) },
    ];
    for (const { key, body, other } of cases) {
      const idempotencyKey = uniqueName('request');
      const send = (bytes: Buffer) => fetch(`${producer.url}/v1/objects/${dataset}/${key}`, { method: 'PUT', headers: { ...auth(), 'idempotency-key': idempotencyKey }, body: bytes });
      const first = await send(body);
      expect(first.status).toBe(202);
      const reused = await send(other);
      expect(reused.status).toBe(422);
      expect(await reused.json()).toMatchObject({ error: 'SHARDSYNC_IDEMPOTENCY_KEY_REUSED', message: expect.stringContaining(sha(body)) as string });
      const retried = await send(body);
      expect(retried.status).toBe(202);
      expect(await retried.json()).toEqual(await first.json());
    }
    const events = await eventsOn(topology.kafka.topics.updates);
    // One event per key, of the first body; the keys may sit in different partitions.
    expect(events.map((e) => [e.key, e.sha256]).sort()).toEqual(cases.map((c) => [c.key, sha(c.body)]).sort());
  });

  it('every bad input gets its status and a JSON error, and nothing reaches the topic', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const dataset = topology.datasets[0]!.name;
    const put = (path: string, headers: Record<string, string>, body: string | Buffer = 'x') => rawRequest(producer.url, 'PUT', `/v1/objects/${path}`, headers, body);
    const cases: Array<[string, Promise<{ status: number; json: unknown }>, number, string]> = [
      ['no token', put(`${dataset}/k`, {}), 401, 'SHARDSYNC_UNAUTHORIZED'],
      ['wrong token', put(`${dataset}/k`, auth('wrong-token-0123456789')), 401, 'SHARDSYNC_UNAUTHORIZED'],
      ['dataset not granted', put(`${dataset}/k`, auth(OTHER_TOKEN)), 403, 'SHARDSYNC_FORBIDDEN'],
      ['unknown dataset', put('no-such-dataset/k', auth()), 404, 'SHARDSYNC_UNKNOWN_DATASET'],
      ['dot-dot segment', put(`${dataset}/a/../b`, auth()), 400, 'SHARDSYNC_INVALID_KEY'],
      ['reserved prefix', put(`${dataset}/.shardsync/x`, auth()), 400, 'SHARDSYNC_INVALID_KEY'],
      ['backslash', put(`${dataset}/a%5Cb`, auth()), 400, 'SHARDSYNC_INVALID_KEY'],
      ['control character', put(`${dataset}/a%01b`, auth()), 400, 'SHARDSYNC_INVALID_KEY'],
      ['not NFC', put(`${dataset}/${encodeURIComponent('e\u0301')}`, auth()), 400, 'SHARDSYNC_INVALID_KEY'],
      ['leading slash', put(`${dataset}//abs`, auth()), 400, 'SHARDSYNC_INVALID_KEY'],
      ['too long', put(`${dataset}/${'k'.repeat(1025)}`, auth()), 400, 'SHARDSYNC_INVALID_KEY'],
      ['reserved metadata name', put(`${dataset}/k`, { ...auth(), 'x-shardsync-meta-shardsync-version': '1' }), 400, 'SHARDSYNC_INVALID_REQUEST'],
      ['checksum mismatch inline', put(`${dataset}/k`, { ...auth(), 'x-shardsync-sha256': sha(Buffer.from('other')) }), 400, 'SHARDSYNC_CHECKSUM_MISMATCH'],
      ['checksum mismatch staged', put(`${dataset}/big`, { ...auth(), 'x-shardsync-sha256': sha(Buffer.from('other')) }, randomBytes(100_000)), 400, 'SHARDSYNC_CHECKSUM_MISMATCH'],
    ];
    for (const [what, response, status, code] of cases) {
      const res = await response.catch((err: unknown) => {
        throw new Error(`${what}: ${String(err)}`);
      });
      const body = res.json as { error: string; message: string };
      expect({ what, status: res.status, error: body.error }).toEqual({ what, status, error: code });
      expect(body.message.length).toBeGreaterThan(10);
    }
    // A declared length over the limit is refused.
    const limited = await rawRequest(producer.url, 'PUT', `/v1/objects/${dataset}/huge`, { ...auth() }, Buffer.alloc(65 * 1024 * 1024));
    expect({ status: limited.status, error: (limited.json as { error: string }).error }).toEqual({ status: 413, error: 'SHARDSYNC_BODY_TOO_LARGE' });
    // So is a chunked body (no length declared) once it passes the limit: answered 413 while it still streams.
    expect(await streamUntilAnswered(producer.url, `/v1/objects/${dataset}/huge`)).toEqual({ status: 413, error: 'SHARDSYNC_BODY_TOO_LARGE', sentMiB: expect.any(Number) as number });
    expect(await eventsOn(topology.kafka.topics.updates)).toEqual([]);
  });

  it('versions from two producer instances writing the same key are totally ordered', async () => {
    const topology = await createTestTopology();
    const [p1, p2] = await Promise.all([
      startTestProducer(topology, { SHARDSYNC_PRODUCER_ID: 'producer-one' }),
      startTestProducer(topology, { SHARDSYNC_PRODUCER_ID: 'producer-two' }),
    ]);
    const dataset = topology.datasets[0]!.name;
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => fetch(`${(i % 2 === 0 ? p1 : p2).url}/v1/objects/${dataset}/same-key`, { method: 'PUT', headers: auth(), body: `v${i}` })),
    );
    const versions = await Promise.all(responses.map(async (r) => ((await r.json()) as { version: string }).version));
    expect(new Set(versions).size).toBe(40);
    expect(new Set(versions.map((v) => v.split('.').slice(2).join('.')))).toEqual(new Set(['dc-a:producer-one', 'dc-a:producer-two']));
    const events = await eventsOn(topology.kafka.topics.updates);
    expect(new Set(events.map((e) => e.version.producerId))).toEqual(new Set(['dc-a:producer-one', 'dc-a:producer-two']));
    // One key, one partition: all 40 events of the key landed on a single partition.
    expect(new Set((await readTopic(topology.kafka.topics.updates)).map((m) => m.partition)).size).toBe(1);
  });

  it('one producer id in two datacenters (a pod name in each cluster) never issues the same version for two updates', async () => {
    const topology = await createTestTopology();
    const id = uniqueName('pod').slice(0, 40);
    // The same millisecond on both: only the producer id can tell the versions apart.
    const frozen = { now: () => 1_800_000_000_000 };
    const [a, b] = await Promise.all([
      startTestProducer(topology, { SHARDSYNC_PRODUCER_ID: id, SHARDSYNC_DATACENTER: 'dc-a' }, frozen),
      startTestProducer(topology, { SHARDSYNC_PRODUCER_ID: id, SHARDSYNC_DATACENTER: 'dc-b' }, frozen),
    ]);
    const dataset = topology.datasets[0]!.name;
    const put = async (url: string, body: string) => ((await (await fetch(`${url}/v1/objects/${dataset}/k`, { method: 'PUT', headers: auth(), body })).json()) as { version: string }).version;
    const [fromA, fromB] = [await put(a.url, 'from dc-a'), await put(b.url, 'from dc-b')];
    expect(fromA).not.toBe(fromB);
    expect([fromA.split('.').slice(2).join('.'), fromB.split('.').slice(2).join('.')]).toEqual([`dc-a:${id}`, `dc-b:${id}`]);
  });

  it('an announcement of an object in a bucket outside the topology is accepted; one the event or the store cannot take is refused with 400', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const dataset = topology.datasets[0]!.name;
    const { bucket, body } = await serviceWrittenObject();
    const announce = (fields: Record<string, unknown>) =>
      rawRequest(producer.url, 'POST', '/v1/events', { ...auth(), 'content-type': 'application/json' }, JSON.stringify({
        dataset, key: 'a.bin', operation: 'put', source: { datacenter: 'dc-a', bucket, key: 'out/a.bin' }, size: body.length, sha256: sha(body), ...fields,
      }));
    const refused: Array<[string, Record<string, unknown>]> = [
      ['upper-case metadata name', { metadata: { Owner: 'team-a' } }],
      ['reserved metadata name', { metadata: { 'shardsync-sha256': sha(body) } }],
      ['metadata too large', { metadata: { note: 'x'.repeat(2000) } }],
      ['source key too long', { source: { datacenter: 'dc-a', bucket, key: 'k'.repeat(1025) } }],
      ['source key under .shardsync/', { source: { datacenter: 'dc-a', bucket, key: '.shardsync/staging/events/x' } }],
      ['source bucket not an S3 name', { source: { datacenter: 'dc-a', bucket: 'Not_A_Bucket', key: 'out/a.bin' } }],
    ];
    for (const [what, fields] of refused) {
      const res = await announce(fields);
      expect({ what, status: res.status, error: (res.json as { error: string }).error }).toEqual({ what, status: 400, error: 'SHARDSYNC_INVALID_REQUEST' });
    }
    expect(await eventsOn(topology.kafka.topics.updates)).toEqual([]);

    const accepted = await announce({ metadata: { owner: 'team-a' } });
    expect(accepted.status).toBe(202);
    const events = await eventsOn(topology.kafka.topics.updates);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ operation: 'PUT', sha256: sha(body), metadata: { owner: 'team-a' }, payload: { kind: 'staged', datacenter: 'dc-a', bucket, key: 'out/a.bin' } });
  });

  it('a request in flight when close() is called is answered 202 and ends its connection, so close() does not wait for the keep-alive timeout', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const dataset = topology.datasets[0]!.name;
    const url = new URL(producer.url);
    // A client that keeps connections open, as SDKs do: the server must be the one to end them.
    const agent = new Agent({ keepAlive: true });
    onTestFinished(() => agent.destroy());
    const body = Buffer.from('in flight at shutdown');
    const req = request({
      host: url.hostname,
      port: url.port,
      method: 'PUT',
      path: `/v1/objects/${dataset}/in-flight.txt`,
      agent,
      // The server answers "100 Continue" once it has parsed the headers: the request is then in flight.
      headers: { ...auth(), 'content-length': String(body.length), expect: '100-continue' },
    });
    const continued = once(req, 'continue');
    const response = once(req, 'response') as Promise<[IncomingMessage]>;
    req.flushHeaders();
    await continued;

    const closeStarted = Date.now();
    const closed = producer.close();
    // The body is sent only once the server has stopped listening, so close() is surely under way.
    await waitFor(() => new Promise<true | undefined>((resolve) => {
      const probe = request({ host: url.hostname, port: url.port, path: '/healthz', agent: false }, (res) => {
        res.resume();
        resolve(undefined);
      });
      probe.on('error', () => resolve(true));
      probe.end();
    }), { what: 'the producer to stop accepting connections' });
    req.end(body);

    const [res] = await response;
    res.resume();
    expect(res.statusCode).toBe(202);
    expect(res.headers.connection).toBe('close');
    // Well under the 72 s keep-alive timeout that close() would otherwise wait for.
    let bound: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([closed.then(() => 'closed'), new Promise<string>((resolve) => (bound = setTimeout(() => resolve('still closing'), 15_000)))]);
    clearTimeout(bound);
    expect(outcome).toBe('closed');
    expect(Date.now() - closeStarted).toBeLessThan(15_000);
    const events = await eventsOn(topology.kafka.topics.updates);
    expect(events.map((e) => e.key)).toEqual(['in-flight.txt']);
  });
});
