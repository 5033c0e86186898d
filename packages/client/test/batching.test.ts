import { getEventListeners } from 'node:events';
import { Readable } from 'node:stream';
import { BATCH_FORMATS, BATCH_FORMATS_HEADER, BATCH_FRAME_CONTENT_TYPE } from '@shardsync/batch-wire';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { batchingClient, batchReply, decodeItems, type Seen } from './fake-batch.js';
import { startFakeProducer, type FakeReply } from './fake-producer.js';
import { rejection } from './rejection.js';

describe('ShardsyncClient with batch', () => {
  it('concurrent small puts and deletes travel in one POST /v1/batch, and each call gets its own answer', async () => {
    const seen: Seen = [];
    const fake = await startFakeProducer([batchReply(seen)]);
    const client = batchingClient(fake.url);
    const sha = 'B'.repeat(64);
    const [a, b, c] = await Promise.all([
      client.put('ds', 'dir/a.json', '{"a":1}', { sha256: sha, contentType: 'application/json', metadata: { owner: 'team-a' } }),
      client.put('ds', 'b.bin', new Uint8Array([0, 1, 2, 255])),
      client.delete('ds', 'gone', { idempotencyKey: 'my-key' }),
    ]);
    expect([a?.key, b?.key, c?.key]).toEqual(['dir/a.json', 'b.bin', 'gone']);
    expect(fake.requests).toEqual([]); // nothing went as a single request
    expect(seen).toHaveLength(1);
    const [put, bytes, del] = seen[0] ?? [];
    expect(put).toMatchObject({ operation: 'put', dataset: 'ds', key: 'dir/a.json', sha256: sha.toLowerCase(), contentType: 'application/json', metadata: { owner: 'team-a' } });
    expect(put?.body?.toString()).toBe('{"a":1}');
    expect(bytes?.body).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(del).toEqual({ operation: 'delete', dataset: 'ds', key: 'gone', idempotencyKey: 'my-key' });
    expect(new Set([put?.idempotencyKey, bytes?.idempotencyKey, del?.idempotencyKey]).size).toBe(3);
    await client.close();
  });

  it('bodies over maxItemBytes and streams go as their own PUT', async () => {
    const seen: Seen = [];
    const fake = await startFakeProducer([{ status: 202 }]);
    const client = batchingClient(fake.url, { batch: { maxItemBytes: 4 } });
    await client.put('ds', 'big', 'five!');
    await client.put('ds', 'stream', Readable.from([Buffer.from('s')]));
    expect(seen).toEqual([]);
    expect(fake.requests.map((r) => [r.method, r.url, r.body.toString()])).toEqual([
      ['PUT', '/v1/objects/ds/big', 'five!'],
      ['PUT', '/v1/objects/ds/stream', 's'],
    ]);
    await client.close();
  });

  it('a refused item fails its own call with the producer\'s code and is not retried; the others succeed', async () => {
    const seen: Seen = [];
    const invalid = { status: 400, json: { error: 'SHARDSYNC_INVALID_KEY', message: 'key "a/../b" is invalid: a ".." segment' } };
    const fake = await startFakeProducer([batchReply(seen, (item) => (item.key === 'a/../b' ? invalid : undefined))]);
    const client = batchingClient(fake.url);
    const [good, bad] = [client.put('ds', 'ok', 'x'), rejection(client.put('ds', 'a/../b', 'x'))];
    expect((await good).key).toBe('ok');
    const err = await bad;
    expect({ code: err.code, status: err.status, retriable: err.retriable, attempts: err.attempts }).toEqual({ code: 'SHARDSYNC_INVALID_KEY', status: 400, retriable: false, attempts: 1 });
    expect(err.message).toMatch(/^put ds\/a\/\.\.\/b: key "a\/\.\.\/b" is invalid/);
    expect(seen.flat()).toHaveLength(2);
    await client.close();
  });

  it('an item answered 503 is retried alone with its own idempotency key until accepted', async () => {
    const seen: Seen = [];
    const unavailable = { status: 503, json: { error: 'SHARDSYNC_UNAVAILABLE', message: 'Kafka is unavailable, try again' } };
    const fake = await startFakeProducer([batchReply(seen, (item, request) => (item.key === 'flaky' && request < 3 ? unavailable : undefined))]);
    const client = batchingClient(fake.url);
    const results = await Promise.all([client.put('ds', 'steady', 'x'), client.put('ds', 'flaky', 'y')]);
    expect(results.map((r) => r.key)).toEqual(['steady', 'flaky']);
    expect(seen.map((items) => items.map((i) => i.key))).toEqual([['steady', 'flaky'], ['flaky'], ['flaky']]);
    expect(new Set(seen.slice(1).flat().map((i) => i.idempotencyKey))).toEqual(new Set([seen[0]?.[1]?.idempotencyKey]));
    await client.close();
  });

  it('a proxy\'s 502 page instead of the batch answer is retried', async () => {
    const seen: Seen = [];
    const fake = await startFakeProducer([{ status: 502, text: '<html>bad gateway</html>' }, batchReply(seen)]);
    const client = batchingClient(fake.url);
    expect((await client.put('ds', 'a', 'x')).key).toBe('a');
    expect(fake.requests).toHaveLength(1); // the 502
    expect(seen.flat().map((i) => i.key)).toEqual(['a']);
    await client.close();
  });

  it('with format "json" the same items travel as JSON with base64 bodies, the form producers without the binary one read', async () => {
    const seen: Seen = [];
    const fake = await startFakeProducer([batchReply(seen)]);
    const client = batchingClient(fake.url, { batch: { format: 'json' } });
    await Promise.all([client.put('ds', 'a', new Uint8Array([0, 255, 7])), client.delete('ds', 'b')]);
    const [put, del] = seen[0] ?? [];
    expect(put).toMatchObject({ operation: 'put', key: 'a', body: Buffer.from([0, 255, 7]) });
    expect(put?.bodyLength).toBeUndefined();
    expect(del).toMatchObject({ operation: 'delete', key: 'b' });
    await client.close();
  });

  it('a producer older than the binary form (a 400 without the formats header) gets the same items again as JSON, for a minute', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    onTestFinished(() => void vi.useRealTimers());
    const seen: Seen = [];
    const forms: Array<string | undefined> = [];
    // What a producer before the binary form answers to a frame: it reads every body as JSON.
    const old: FakeReply = (req, res) => {
      forms.push(req.headers['content-type']);
      if (req.headers['content-type'] === 'application/json') {
        batchReply(seen)(req, res);
        return;
      }
      req.resume();
      req.on('end', () => {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'SHARDSYNC_INVALID_REQUEST', message: 'the body is not valid JSON: Unexpected token' }));
      });
    };
    const fake = await startFakeProducer([old]);
    const client = batchingClient(fake.url);
    const answers = await Promise.all([client.put('ds', 'a', new Uint8Array([0, 255, 7])), client.delete('ds', 'b')]);
    expect(answers.map((a) => a.key)).toEqual(['a', 'b']);
    expect(forms).toEqual([BATCH_FRAME_CONTENT_TYPE, 'application/json']);
    expect(seen[0]?.map((i) => [i.key, i.body])).toEqual([
      ['a', Buffer.from([0, 255, 7])],
      ['b', undefined],
    ]);

    await client.put('ds', 'c', 'x'); // within the minute: JSON at once
    vi.setSystemTime(Date.now() + 61_000);
    await client.put('ds', 'd', 'y'); // after it: binary tried again, refused again
    expect(forms.slice(2)).toEqual(['application/json', BATCH_FRAME_CONTENT_TYPE, 'application/json']);
    expect(seen.flat().map((i) => i.key)).toEqual(['a', 'b', 'c', 'd']);
    await client.close();
  });

  it('a 400 of a producer that reads the binary form fails the calls without a JSON retry', async () => {
    const refusal = { error: 'SHARDSYNC_INVALID_REQUEST', message: 'items[0]: "bodyLength" is 3 but only 2 body bytes are left' };
    const fake = await startFakeProducer([{ status: 400, json: refusal, headers: { [BATCH_FORMATS_HEADER]: BATCH_FORMATS } }]);
    const client = batchingClient(fake.url);
    const error = await rejection(client.put('ds', 'a', 'x'));
    expect([error.code, error.status, error.attempts]).toEqual(['SHARDSYNC_INVALID_REQUEST', 400, 1]);
    expect(fake.requests.map((r) => r.headers['content-type'])).toEqual([BATCH_FRAME_CONTENT_TYPE]);
    await client.close();
  });

  it('a request that got no answer is retried for every item it carried, with the same keys', async () => {
    const seen: Seen = [];
    const fake = await startFakeProducer(['drop', batchReply(seen)]);
    const client = batchingClient(fake.url);
    await Promise.all([client.put('ds', 'a', 'x'), client.delete('ds', 'b')]);
    expect(fake.requests).toHaveLength(1); // the dropped one
    const dropped = decodeItems(fake.requests[0]?.body ?? Buffer.alloc(0));
    // Each item waits out its own backoff, so the retries may travel together or apart.
    expect(seen.flat().map((i) => [i.key, i.idempotencyKey]).sort()).toEqual(dropped.map((i) => [i.key, i.idempotencyKey]).sort());
    await client.close();
  });

  it('a 200 that is not a result per item is resent for every item with the same keys, whose repeats get the first answers', async () => {
    const seen: Seen = [];
    const fake = await startFakeProducer([{ status: 200, json: { results: [{ status: 202 }] } }, batchReply(seen)]);
    const client = batchingClient(fake.url);
    const answers = await Promise.all([client.put('ds', 'a', 'x'), client.delete('ds', 'b')]);
    expect(answers.map((a) => a.key)).toEqual(['a', 'b']);
    const unreadable = decodeItems(fake.requests[0]?.body ?? Buffer.alloc(0));
    expect(seen.flat().map((i) => [i.key, i.idempotencyKey]).sort()).toEqual(unreadable.map((i) => [i.key, i.idempotencyKey]).sort());
    await client.close();
  });

  it('a 200 that stays unreadable fails every call as retriable once its attempts are spent, naming the keys to retry with', async () => {
    const fake = await startFakeProducer([{ status: 200, text: '{"results": [' }]);
    const client = batchingClient(fake.url, { retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 5 } });
    const errors = await Promise.all([rejection(client.put('ds', 'a', 'x')), rejection(client.put('ds', 'b', 'y'))]);
    expect(errors.map((e) => [e.code, e.retriable, e.attempts])).toEqual([
      ['SHARDSYNC_CLIENT_BAD_RESPONSE', true, 2],
      ['SHARDSYNC_CLIENT_BAD_RESPONSE', true, 2],
    ]);
    // The retries wait their own jittered delays, so the last attempt may carry one item or both.
    expect(errors[0]?.message).toMatch(/^put ds\/a: batch of [12] updates?: .*same idempotency keys/);
    expect(errors.every((e) => e.idempotencyKey !== undefined)).toBe(true);
    await client.close();
  });

  it('no request carries more than maxItems items, and calls beyond maxRequests wait for a free request', async () => {
    const seen: Seen = [];
    let concurrent = 0;
    let most = 0;
    const slow: FakeReply = (req, res) => {
      concurrent += 1;
      most = Math.max(most, concurrent);
      setTimeout(() => {
        concurrent -= 1;
        batchReply(seen)(req, res);
      }, 20);
    };
    const fake = await startFakeProducer([slow]);
    const client = batchingClient(fake.url, { batch: { maxItems: 4, maxRequests: 2 } });
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
    const answers = await Promise.all(keys.map((k) => client.put('ds', k, 'x')));
    expect(answers.map((a) => a.key)).toEqual(keys);
    expect(Math.max(...seen.map((items) => items.length))).toBeLessThanOrEqual(4);
    expect(seen.flat().map((i) => i.key).sort()).toEqual([...keys].sort());
    expect(most).toBe(2);
    await client.close();
  });

  it('an aborted call that is still queued is never sent', async () => {
    const seen: Seen = [];
    const fake = await startFakeProducer([batchReply(seen)]);
    const client = batchingClient(fake.url);
    const controller = new AbortController();
    const aborted = rejection(client.put('ds', 'cancelled', 'x', { signal: controller.signal }));
    const kept = client.put('ds', 'kept', 'y');
    controller.abort(new Error('changed my mind'));
    expect((await aborted).code).toBe('SHARDSYNC_CLIENT_ABORTED');
    expect((await kept).key).toBe('kept');
    expect(seen.flat().map((i) => i.key)).toEqual(['kept']);
    await client.close();
  });

  it('aborting a call whose batch is on the wire rejects it at once; the request goes on for the others, and no listener is left', async () => {
    const seen: Seen = [];
    let received!: () => void;
    const onWire = new Promise<void>((resolve) => (received = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    // Holds the answer until the test releases it, like a producer waiting for Kafka.
    const held: FakeReply = (req, res) => {
      received();
      void released.then(() => batchReply(seen)(req, res));
    };
    const fake = await startFakeProducer([held]);
    const client = batchingClient(fake.url, { idleTimeoutMs: 60_000 });
    const cancelled = new AbortController();
    const kept = new AbortController();
    const aborted = rejection(client.put('ds', 'cancelled', 'x', { signal: cancelled.signal }));
    const other = client.delete('ds', 'kept', { signal: kept.signal });
    await onWire;
    cancelled.abort(new Error('changed my mind'));
    // Before the held answer: without its own listener the call would wait for the whole request.
    const err = await aborted;
    expect([err.code, err.retriable]).toEqual(['SHARDSYNC_CLIENT_ABORTED', false]);
    expect(getEventListeners(cancelled.signal, 'abort')).toHaveLength(0);
    release();
    expect((await other).key).toBe('kept');
    // One request carried both; the answer for the aborted item was ignored, not resent.
    expect(seen.map((items) => items.map((i) => i.key))).toEqual([['cancelled', 'kept']]);
    expect(getEventListeners(kept.signal, 'abort')).toHaveLength(0);
    await client.close();
  });
});
