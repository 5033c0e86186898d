import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { decodeShardUpdate, type ShardUpdate } from '@shardsync/events';
import { createTestTopology, readTopic, uniqueName } from '@shardsync/testing';
import { auth, rawRequest, serviceWrittenObject, startTestProducer } from './helpers.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function eventsOn(topic: string): Promise<ShardUpdate[]> {
  return (await readTopic(topic)).map((m) => decodeShardUpdate(m.value, m.headers));
}

/** PUTs `body` with chunked transfer encoding (no Content-Length), in two writes. */
function chunkedPut(baseUrl: string, path: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number; json: unknown }> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method: 'PUT', path, headers: { ...headers, 'transfer-encoding': 'chunked' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown }));
    });
    req.on('error', reject);
    req.write(body.subarray(0, 3));
    req.end(body.subarray(3));
  });
}

describe('Idempotency-Key: what makes a retry the same request', () => {
  it('the same key with other metadata or another content type is 422 and emits nothing; the same metadata in another header order gets the first answer', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const dataset = topology.datasets[0]!.name;
    const idempotencyKey = uniqueName('request');
    const put = (headers: Record<string, string>) => rawRequest(producer.url, 'PUT', `/v1/objects/${dataset}/meta`, { ...auth(), 'idempotency-key': idempotencyKey, ...headers }, 'same body');
    const first = await put({ 'x-shardsync-meta-owner': 'team-a', 'x-shardsync-meta-tier': 'hot', 'content-type': 'text/plain' });
    expect(first.status).toBe(202);
    const others: Array<Record<string, string>> = [
      { 'x-shardsync-meta-owner': 'team-b', 'x-shardsync-meta-tier': 'hot', 'content-type': 'text/plain' },
      { 'x-shardsync-meta-owner': 'team-a', 'x-shardsync-meta-tier': 'hot', 'content-type': 'application/json' },
      { 'x-shardsync-meta-owner': 'team-a', 'content-type': 'text/plain' },
    ];
    for (const other of others) {
      const reused = await put(other);
      expect({ status: reused.status, error: (reused.json as { error?: string }).error }).toEqual({ status: 422, error: 'SHARDSYNC_IDEMPOTENCY_KEY_REUSED' });
    }
    const reordered = await put({ 'content-type': 'text/plain', 'x-shardsync-meta-tier': 'hot', 'x-shardsync-meta-owner': 'team-a' });
    expect({ status: reordered.status, json: reordered.json }).toEqual({ status: 202, json: first.json });
    const events = await eventsOn(topology.kafka.topics.updates);
    expect(events.map((e) => e.metadata)).toEqual([{ owner: 'team-a', tier: 'hot', 'content-type': 'text/plain' }]);
  });

  it('a put retried chunked after it was sent with Content-Length (or the other way round) gets the first answer; another length is 422', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const dataset = topology.datasets[0]!.name;
    const body = Buffer.from('the same bytes either way');
    const withLength = (key: string, idempotencyKey: string, bytes = body) => rawRequest(producer.url, 'PUT', `/v1/objects/${dataset}/${key}`, { ...auth(), 'idempotency-key': idempotencyKey }, bytes);
    const chunked = (key: string, idempotencyKey: string, bytes = body) => chunkedPut(producer.url, `/v1/objects/${dataset}/${key}`, { ...auth(), 'idempotency-key': idempotencyKey }, bytes);

    const lengthFirst = uniqueName('request');
    const a = await withLength('a', lengthFirst);
    expect(a.status).toBe(202);
    expect(await chunked('a', lengthFirst)).toMatchObject({ status: 202, json: a.json });

    const chunkedFirst = uniqueName('request');
    const b = await chunked('b', chunkedFirst);
    expect(b.status).toBe(202);
    expect(await withLength('b', chunkedFirst)).toMatchObject({ status: 202, json: b.json });
    const longer = await withLength('b', chunkedFirst, Buffer.concat([body, Buffer.from('!')]));
    expect({ status: longer.status, error: (longer.json as { error?: string }).error }).toEqual({ status: 422, error: 'SHARDSYNC_IDEMPOTENCY_KEY_REUSED' });

    const events = await eventsOn(topology.kafka.topics.updates);
    expect(events.map((e) => [e.key, e.sha256]).sort()).toEqual([['a', sha(body)], ['b', sha(body)]]);
  });

  it('an announcement retried with its metadata in another order gets the first answer and emits one event; other metadata is 422', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const dataset = topology.datasets[0]!.name;
    const { bucket, body } = await serviceWrittenObject();
    const idempotencyKey = uniqueName('request');
    const announce = (metadata: Record<string, string>) =>
      rawRequest(producer.url, 'POST', '/v1/events', { ...auth(), 'content-type': 'application/json', 'idempotency-key': idempotencyKey }, JSON.stringify({
        dataset, key: 'a.bin', operation: 'put', source: { datacenter: 'dc-a', bucket, key: 'out/a.bin' }, size: body.length, sha256: sha(body), metadata,
      }));
    const first = await announce({ owner: 'team-a', tier: 'hot' });
    expect(first.status).toBe(202);
    expect(await announce({ tier: 'hot', owner: 'team-a' })).toMatchObject({ status: 202, json: first.json });
    const other = await announce({ owner: 'team-b', tier: 'hot' });
    expect({ status: other.status, error: (other.json as { error?: string }).error }).toEqual({ status: 422, error: 'SHARDSYNC_IDEMPOTENCY_KEY_REUSED' });
    expect(await eventsOn(topology.kafka.topics.updates)).toHaveLength(1);
  });
});
