import { describe, expect, it } from 'vitest';
import { batchingClient, batchReply, decodeItems, type Seen } from './fake-batch.js';
import { ACCEPTED, startFakeProducer, type FakeReply } from './fake-producer.js';
import { rejection } from './rejection.js';

const MiB = 1024 * 1024;

describe('ShardsyncClient with batch: sizes of requests and answers', () => {
  it('a full batch of long keys gets its answer of over 1 MiB whole, and every call its result', async () => {
    const seen: Seen = [];
    const fake = await startFakeProducer([batchReply(seen)]);
    const client = batchingClient(fake.url, { batch: { maxItems: 1000, maxRequests: 1 } });
    const keys = Array.from({ length: 1000 }, (_, i) => `run/${String(i).padStart(4, '0')}/${'k'.repeat(970)}`);
    // What the fake answers: one 202 result per item, each echoing its key.
    const answer = JSON.stringify({ results: keys.map((key) => ({ status: 202, ...ACCEPTED('models', key) })) });
    expect(Buffer.byteLength(answer)).toBeGreaterThan(MiB);
    const answers = await Promise.all(keys.map((key, i) => client.put('models', key, `v${i}`)));
    expect(answers.map((a) => a.key)).toEqual(keys);
    expect(seen).toHaveLength(1); // one request, answered once: nothing was resent
    await client.close();
  });

  it('an answer longer than its batch allows is cut off, and its items are resent with the same keys', async () => {
    const seen: Seen = [];
    // Well-formed and far over 1 MiB + 16 KiB per item for two items: a runaway answer, not a result per item.
    const runaway = { status: 200, json: { results: [{ status: 202 }, { status: 202 }], padding: 'x'.repeat(2 * MiB) } };
    const fake = await startFakeProducer([runaway, batchReply(seen)]);
    const client = batchingClient(fake.url);
    const answers = await Promise.all([client.put('ds', 'a', 'x'), client.delete('ds', 'b')]);
    expect(answers.map((a) => a.key)).toEqual(['a', 'b']);
    const cut = decodeItems(fake.requests[0]?.body ?? Buffer.alloc(0));
    expect(seen.flat().map((i) => [i.key, i.idempotencyKey]).sort()).toEqual(cut.map((i) => [i.key, i.idempotencyKey]).sort());
    await client.close();
  });

  it('the error of a cut-off answer says so and is retriable', async () => {
    const runaway = { status: 200, json: { results: [{ status: 202 }], padding: 'x'.repeat(2 * MiB) } };
    const fake = await startFakeProducer([runaway]);
    const client = batchingClient(fake.url, { retry: { maxAttempts: 1 } });
    const err = await rejection(client.put('ds', 'a', 'x'));
    expect([err.code, err.status, err.retriable]).toEqual(['SHARDSYNC_CLIENT_BAD_RESPONSE', 200, true]);
    expect(err.message).toMatch(/^put ds\/a: batch of 1 update: .*longer than the \d+ bytes allowed for 1 items and was cut off/);
    await client.close();
  });

  it('a call with a dataset name no topology can hold fails alone before anything is sent; the calls batched with it succeed', async () => {
    const seen: Seen = [];
    const fake = await startFakeProducer([batchReply(seen)]);
    const client = batchingClient(fake.url);
    const good = Array.from({ length: 5 }, (_, i) => client.put('models', `good-${i}`, `v${i}`));
    const huge = rejection(client.delete('d'.repeat(17 * MiB), 'k'));
    const badNames = ['Models', 'my ds', '-models', 'm/x', 'm'.repeat(64)].map((dataset) => rejection(client.put(dataset, 'k', 'x')));
    expect((await Promise.all(good)).map((a) => a.key)).toEqual(['good-0', 'good-1', 'good-2', 'good-3', 'good-4']);
    const err = await huge;
    expect([err.code, err.retriable, err.status, err.attempts]).toEqual(['SHARDSYNC_CLIENT_INVALID_ARGUMENT', false, undefined, 0]);
    expect(err.message).toMatch(/^dataset "d{80}"… \(17825792 characters\) is not a dataset name: names are 1 to 63 characters of a-z/);
    expect(err.message.length).toBeLessThan(400);
    for (const bad of await Promise.all(badNames)) expect(bad.code).toBe('SHARDSYNC_CLIENT_INVALID_ARGUMENT');
    expect(seen.flat().map((i) => i.dataset)).toEqual(Array.from({ length: 5 }, () => 'models'));
    expect(fake.requests).toEqual([]);
    await client.close();
  });

  it('a key over 1024 UTF-8 bytes fails alone before anything is sent; one of exactly 1024 bytes is sent', async () => {
    const seen: Seen = [];
    const fake = await startFakeProducer([batchReply(seen)]);
    const client = batchingClient(fake.url);
    const longest = `${'é'.repeat(511)}ab`; // 1024 bytes in 513 characters
    const over = 'é'.repeat(513); // 1026 bytes
    const [fits, tooLong, huge] = [client.put('ds', longest, 'x'), rejection(client.put('ds', over, 'x')), rejection(client.put('ds', 'a'.repeat(1_100_000), 'x'))];
    expect((await fits).key).toBe(longest);
    const err = await tooLong;
    expect([err.code, err.retriable]).toEqual(['SHARDSYNC_CLIENT_INVALID_ARGUMENT', false]);
    expect(err.message).toMatch(/^key "é{80}"… \(513 characters\) is 1026 UTF-8 bytes; the limit is 1024$/);
    expect((await huge).message).toMatch(/is 1100000 UTF-8 bytes; the limit is 1024$/);
    expect(seen.flat().map((i) => i.key)).toEqual([longest]);
    await client.close();
  });

  it('no request exceeds maxBytes, counting each item\'s dataset, idempotency key, digest and metadata', async () => {
    const seen: Seen = [];
    const sizes: number[] = [];
    const measured: FakeReply = (req, res) => {
      sizes.push(Number(req.headers['content-length']));
      batchReply(seen)(req, res);
    };
    const fake = await startFakeProducer([measured]);
    const maxBytes = 4096;
    for (const format of ['json', 'binary'] as const) {
      const client = batchingClient(fake.url, { batch: { maxBytes, maxItemBytes: 16, maxRequests: 1, format } });
      // Small bodies and keys, but long descriptions: a 63-character dataset, a 255-character
      // idempotency key of quotes (each escaped to two bytes in JSON), a digest and metadata.
      const calls = Array.from({ length: 40 }, (_, i) =>
        client.put('d'.repeat(63), `k${i}`, 'x', {
          idempotencyKey: `${i}`.padEnd(255, '"'),
          sha256: 'a'.repeat(64),
          contentType: 'text/plain',
          metadata: { owner: 'o'.repeat(100) },
        }),
      );
      expect(await Promise.all(calls)).toHaveLength(40);
      await client.close();
    }
    expect(seen.flat()).toHaveLength(80);
    expect(sizes.length).toBeGreaterThan(2);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(maxBytes);
  });
});
