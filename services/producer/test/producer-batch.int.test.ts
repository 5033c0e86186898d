import { createHash, randomBytes } from 'node:crypto';
import { BATCH_FORMATS, BATCH_FORMATS_HEADER, BATCH_FRAME_CONTENT_TYPE, encodeBatchFrame } from '@shardsync/batch-wire';
import { describe, expect, it } from 'vitest';
import { decodeShardUpdate, inflateInlinePayload, type ShardUpdate } from '@shardsync/events';
import { createTestTopology, readTopic, uniqueName } from '@shardsync/testing';
import { auth, OTHER_TOKEN, rawRequest, startTestProducer } from './helpers.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

interface ItemResult {
  status: number;
  error?: string;
  eventId?: string;
  version?: string;
  sha256?: string | null;
  key?: string;
}

async function eventsOn(topic: string): Promise<ShardUpdate[]> {
  return (await readTopic(topic)).map((m) => decodeShardUpdate(m.value, m.headers));
}

function inlineBytes(event: ShardUpdate | undefined): Buffer {
  if (event?.payload?.kind !== 'inline') throw new Error(`expected an inline payload, got ${event?.payload?.kind}`);
  return inflateInlinePayload(event.payload);
}

describe('producer POST /v1/batch', () => {
  it('answers every item on its own and emits exactly the accepted ones, with their bytes and digests', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const dataset = topology.datasets[0]!.name;
    const small = Buffer.from('a small body');
    const staged = randomBytes(10 * 1024); // over the test producer's 4 KiB inline limit
    const items = [
      { operation: 'put', dataset, key: 'b/small.txt', body: b64(small), contentType: 'text/plain', metadata: { owner: 'team-a' } },
      { operation: 'put', dataset, key: 'b/staged.bin', body: b64(staged), sha256: sha(staged) },
      { operation: 'delete', dataset, key: 'b/gone' },
      { operation: 'put', dataset, key: 'b/../escape', body: b64('x') },
      { operation: 'put', dataset: 'no-such-dataset', key: 'k', body: b64('x') },
      { operation: 'put', dataset, key: 'b/mismatch', body: b64('x'), sha256: sha(Buffer.from('y')) },
      { operation: 'put', dataset, key: 'b/reserved-metadata', body: b64('x'), metadata: { 'shardsync-version': '9' } },
    ];
    const res = await rawRequest(producer.url, 'POST', '/v1/batch', { ...auth(), 'content-type': 'application/json' }, JSON.stringify({ items }));
    expect(res.status).toBe(200);
    const results = (res.json as { results: ItemResult[] }).results;
    expect(results.map((r) => [r.status, r.error])).toEqual([
      [202, undefined],
      [202, undefined],
      [202, undefined],
      [400, 'SHARDSYNC_INVALID_KEY'],
      [404, 'SHARDSYNC_UNKNOWN_DATASET'],
      [400, 'SHARDSYNC_CHECKSUM_MISMATCH'],
      [400, 'SHARDSYNC_INVALID_REQUEST'],
    ]);
    expect(results[0]).toMatchObject({ key: 'b/small.txt', sha256: sha(small) });
    expect(results[2]).toMatchObject({ key: 'b/gone', sha256: null });

    const events = await eventsOn(topology.kafka.topics.updates);
    expect(events.map((e) => e.eventId).sort()).toEqual([results[0]?.eventId, results[1]?.eventId, results[2]?.eventId].sort());
    const byKey = new Map(events.map((e) => [e.key, e]));
    expect(inlineBytes(byKey.get('b/small.txt'))).toEqual(small);
    expect(byKey.get('b/small.txt')?.metadata).toEqual({ owner: 'team-a', 'content-type': 'text/plain' });
    expect(byKey.get('b/staged.bin')).toMatchObject({ sha256: sha(staged), size: staged.length, payload: { kind: 'staged' } });
    expect(byKey.get('b/gone')?.operation).toBe('DELETE');
  });

  it('the binary form carries bodies as raw bytes: they arrive unchanged, and a frame that does not add up emits nothing', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const dataset = topology.datasets[0]!.name;
    const small = randomBytes(700);
    const staged = randomBytes(10 * 1024); // over the test producer's 4 KiB inline limit
    const description = {
      items: [
        { operation: 'put', dataset, key: 'f/small.bin', bodyLength: small.length, metadata: { owner: 'team-b' } },
        { operation: 'delete', dataset, key: 'f/gone' },
        { operation: 'put', dataset, key: 'f/staged.bin', bodyLength: staged.length, sha256: sha(staged) },
      ],
    };
    const headers = { ...auth(), 'content-type': BATCH_FRAME_CONTENT_TYPE };
    const short = encodeBatchFrame(description, [small, staged.subarray(1)]);
    const refused = await rawRequest(producer.url, 'POST', '/v1/batch', headers, short);
    expect({ status: refused.status, error: (refused.json as { error: string }).error }).toEqual({ status: 400, error: 'SHARDSYNC_INVALID_REQUEST' });
    // The header tells a client this 400 is about the frame, not a producer that reads only JSON.
    expect(refused.headers[BATCH_FORMATS_HEADER]).toBe(BATCH_FORMATS);
    expect((refused.json as { message: string }).message).toMatch(/items\[2\]: "bodyLength" is 10240 but only 10239 body bytes are left/);
    expect(await eventsOn(topology.kafka.topics.updates)).toEqual([]);

    const res = await rawRequest(producer.url, 'POST', '/v1/batch', headers, encodeBatchFrame(description, [small, staged]));
    expect(res.status).toBe(200);
    const results = (res.json as { results: ItemResult[] }).results;
    expect(results.map((r) => [r.status, r.key, r.sha256])).toEqual([
      [202, 'f/small.bin', sha(small)],
      [202, 'f/gone', null],
      [202, 'f/staged.bin', sha(staged)],
    ]);
    const byKey = new Map((await eventsOn(topology.kafka.topics.updates)).map((e) => [e.key, e]));
    expect(inlineBytes(byKey.get('f/small.bin'))).toEqual(small);
    expect(byKey.get('f/small.bin')?.metadata).toEqual({ owner: 'team-b' });
    expect(byKey.get('f/gone')?.operation).toBe('DELETE');
    expect(byKey.get('f/staged.bin')).toMatchObject({ sha256: sha(staged), size: staged.length, payload: { kind: 'staged' } });
  });

  it('inline events of one key adding up to more than one Kafka record batch (1 MiB) are all accepted', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology, { SHARDSYNC_PRODUCER_INLINE_MAX_BYTES: String(64 * 1024) });
    const dataset = topology.datasets[0]!.name;
    // Incompressible 64 KiB bodies, all for one key and so one partition: 1.5 MiB in one request.
    const bodies = Array.from({ length: 24 }, () => randomBytes(64 * 1024));
    const items = bodies.map((body) => ({ operation: 'put', dataset, key: 'hot/key', body: b64(body) }));
    const res = await rawRequest(producer.url, 'POST', '/v1/batch', { ...auth(), 'content-type': 'application/json' }, JSON.stringify({ items }));
    expect(res.status).toBe(200);
    const results = (res.json as { results: ItemResult[] }).results;
    expect(results.map((r) => r.status)).toEqual(bodies.map(() => 202));
    const events = await eventsOn(topology.kafka.topics.updates);
    expect(events).toHaveLength(bodies.length);
    expect(events.map((e) => e.payload?.kind)).toEqual(bodies.map(() => 'inline'));
    expect(new Set(events.map((e) => e.sha256))).toEqual(new Set(bodies.map(sha)));
  });

  it('a retried item with the same idempotencyKey gets the first answer and emits one event', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const dataset = topology.datasets[0]!.name;
    const idempotencyKey = uniqueName('item');
    const send = async (): Promise<ItemResult[]> => {
      const body = JSON.stringify({ items: [{ operation: 'put', dataset, key: 'k', body: b64('same'), idempotencyKey }] });
      const res = await rawRequest(producer.url, 'POST', '/v1/batch', auth(), body);
      expect(res.status).toBe(200);
      return (res.json as { results: ItemResult[] }).results;
    };
    const [first] = await send();
    const [second] = await send();
    expect(first?.status).toBe(202);
    expect(second).toEqual(first);
    expect(await eventsOn(topology.kafka.topics.updates)).toHaveLength(1);
  });

  it('a dataset the token may not write is refused for that item only', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const dataset = topology.datasets[0]!.name;
    const body = JSON.stringify({ items: [{ operation: 'put', dataset, key: 'k', body: b64('x') }] });
    const res = await rawRequest(producer.url, 'POST', '/v1/batch', auth(OTHER_TOKEN), body);
    expect(res.status).toBe(200);
    expect((res.json as { results: ItemResult[] }).results).toEqual([expect.objectContaining({ status: 403, error: 'SHARDSYNC_FORBIDDEN' })]);
    expect(await eventsOn(topology.kafka.topics.updates)).toEqual([]);
  });

  it('a malformed request is refused whole, naming what is wrong, and emits nothing', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology, { SHARDSYNC_PRODUCER_BATCH_MAX_BYTES: String(64 * 1024) });
    const dataset = topology.datasets[0]!.name;
    const good = { operation: 'put', dataset, key: 'k', body: b64('x') };
    const cases: Array<[string, Record<string, string>, string, number, string, RegExp]> = [
      ['no token', {}, JSON.stringify({ items: [good] }), 401, 'SHARDSYNC_UNAUTHORIZED', /token/],
      ['not JSON', auth(), '{"items": [', 400, 'SHARDSYNC_INVALID_REQUEST', /not valid JSON/],
      ['no items', auth(), JSON.stringify({ puts: [] }), 400, 'SHARDSYNC_INVALID_REQUEST', /\{"items"/],
      ['empty', auth(), JSON.stringify({ items: [] }), 400, 'SHARDSYNC_INVALID_REQUEST', /empty/],
      ['bad base64 in item 1', auth(), JSON.stringify({ items: [good, { ...good, body: 'not base64!' }] }), 400, 'SHARDSYNC_INVALID_REQUEST', /items\[1\].*base64/],
      ['unknown operation', auth(), JSON.stringify({ items: [{ ...good, operation: 'copy' }] }), 400, 'SHARDSYNC_INVALID_REQUEST', /items\[0\].*operation/],
      ['metadata not ASCII', auth(), JSON.stringify({ items: [{ ...good, metadata: { owner: 'équipe' } }] }), 400, 'SHARDSYNC_INVALID_REQUEST', /items\[0\].*metadata "owner"/],
      ['a delete with a body', auth(), JSON.stringify({ items: [{ ...good, operation: 'delete' }] }), 400, 'SHARDSYNC_INVALID_REQUEST', /delete has no "body"/],
      ['over the batch limit', auth(), JSON.stringify({ items: [{ ...good, body: b64(randomBytes(70 * 1024)) }] }), 413, 'SHARDSYNC_BODY_TOO_LARGE', /at most 65536/],
    ];
    for (const [what, headers, body, status, code, message] of cases) {
      const res = await rawRequest(producer.url, 'POST', '/v1/batch', headers, body);
      const json = res.json as { error: string; message: string };
      expect({ what, status: res.status, error: json.error }).toEqual({ what, status, error: code });
      expect(json.message).toMatch(message);
    }
    expect(await eventsOn(topology.kafka.topics.updates)).toEqual([]);
  });
});
