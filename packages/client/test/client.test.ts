import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { inspect } from 'node:util';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { objectPath } from '../src/index.js';
import { ACCEPTED, startFakeProducer, type FakeProducer } from './fake-producer.js';
import { clientFor, TOKEN } from './client-fixtures.js';
import { rejection } from './rejection.js';

describe('ShardsyncClient requests', () => {
  it('a put sends the body, bearer token, digest, content type and metadata, and returns the typed answer', async () => {
    const fake = await startFakeProducer([{ status: 202, json: ACCEPTED('models', 'dir/a.txt') }]);
    const client = clientFor(fake.url);
    const accepted = await client.put('models', 'dir/a.txt', 'hello', {
      sha256: 'AB'.repeat(32),
      contentType: 'text/plain',
      metadata: { owner: 'team-a', 'build-id': '42' },
    });
    expect(accepted).toEqual(ACCEPTED('models', 'dir/a.txt'));
    expect(fake.requests).toHaveLength(1);
    const [req] = fake.requests;
    expect(req?.method).toBe('PUT');
    expect(req?.url).toBe('/v1/objects/models/dir/a.txt');
    expect(req?.body.toString()).toBe('hello');
    expect(req?.headers).toMatchObject({
      authorization: `Bearer ${TOKEN}`,
      'content-length': '5',
      'content-type': 'text/plain',
      'x-shardsync-sha256': 'ab'.repeat(32),
      'x-shardsync-meta-owner': 'team-a',
      'x-shardsync-meta-build-id': '42',
    });
    expect(req?.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    await client.close();
  });

  it('a Uint8Array body is sent as its own bytes, not the whole underlying buffer', async () => {
    const fake = await startFakeProducer([{ status: 202 }]);
    const client = clientFor(fake.url);
    const backing = new Uint8Array([1, 2, 3, 4, 5, 6]);
    await client.put('ds', 'k', backing.subarray(2, 4));
    expect([...(fake.requests[0]?.body ?? [])]).toEqual([3, 4]);
    await client.close();
  });

  it('keys are percent-encoded segment by segment and keep their slashes', async () => {
    const fake = await startFakeProducer([{ status: 202 }]);
    const client = clientFor(`${fake.url}/gateway/`);
    await client.put('my-ds.v2', 'dir with space/ü/a?b#c%d+e.bin', 'x');
    expect(fake.requests[0]?.url).toBe('/gateway/v1/objects/my-ds.v2/dir%20with%20space/%C3%BC/a%3Fb%23c%25d%2Be.bin');
    expect(objectPath('ds', 'a/b/c')).toBe('/v1/objects/ds/a/b/c');
    // Dot segments reach the producer as written (fetch would resolve them away), so it can refuse them.
    expect(objectPath('ds', 'a/../b')).toBe('/v1/objects/ds/a/../b');
    await client.close();
  });

  it('a baseUrl with an IPv6 literal reaches the producer at that address (not a DNS lookup of "[::1]")', async () => {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify(ACCEPTED())));
    });
    server.listen(0, '::1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const client = clientFor(`http://[::1]:${port}`, { retry: { maxAttempts: 1 } });
    try {
      await expect(client.put('ds', 'k', 'x')).resolves.toEqual(ACCEPTED());
    } finally {
      await client.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('a delete sends DELETE without a body', async () => {
    const fake = await startFakeProducer([{ status: 202, json: { ...ACCEPTED('ds', 'gone'), sha256: null, size: 0 } }]);
    const client = clientFor(fake.url);
    const accepted = await client.delete('ds', 'gone');
    expect(accepted.sha256).toBeNull();
    expect(fake.requests[0]).toMatchObject({ method: 'DELETE', url: '/v1/objects/ds/gone' });
    expect(fake.requests[0]?.body.length).toBe(0);
    await client.close();
  });

  it('an announcement is posted as JSON to /v1/events', async () => {
    const fake = await startFakeProducer([{ status: 202 }]);
    const client = clientFor(fake.url);
    const announcement = {
      operation: 'put' as const,
      dataset: 'ds',
      key: 'k',
      source: { datacenter: 'dc-b', bucket: 'b', key: 'raw/k' },
      size: 3,
      sha256: 'f'.repeat(64),
    };
    await client.announce(announcement, { idempotencyKey: 'cdc-offset-17' });
    expect(fake.requests[0]).toMatchObject({ method: 'POST', url: '/v1/events' });
    expect(fake.requests[0]?.headers).toMatchObject({ 'content-type': 'application/json', 'idempotency-key': 'cdc-offset-17' });
    expect(JSON.parse(fake.requests[0]?.body.toString() ?? '')).toEqual(announcement);
    await client.close();
  });

  it('each call gets its own generated Idempotency-Key, and a caller\'s key is sent as given', async () => {
    const fake = await startFakeProducer([{ status: 202 }]);
    const client = clientFor(fake.url);
    await client.put('ds', 'k', 'a');
    await client.put('ds', 'k', 'a');
    await client.put('ds', 'k', 'a', { idempotencyKey: 'order-1234' });
    const keys = fake.requests.map((r) => r.headers['idempotency-key']);
    expect(new Set(keys).size).toBe(3);
    expect(keys[2]).toBe('order-1234');
    await client.close();
  });
});

describe('ShardsyncClient connections', () => {
  /** Counts the fake's connections, and those closed so far. */
  function watchConnections(fake: FakeProducer): { opened: number; closed: number } {
    const seen = { opened: 0, closed: 0 };
    fake.server.on('connection', (socket: Socket) => {
      seen.opened += 1;
      socket.once('close', () => (seen.closed += 1));
    });
    return seen;
  }

  it('consecutive calls reuse one kept-alive connection', async () => {
    const fake = await startFakeProducer([{ status: 202 }]);
    const seen = watchConnections(fake);
    const client = clientFor(fake.url);
    await client.put('ds', 'k1', 'a');
    await client.put('ds', 'k2', 'b');
    expect(seen).toEqual({ opened: 1, closed: 0 });
    await client.close();
  });

  it('an unused connection is closed by the client after keepAliveMs, before the server would drop it', async () => {
    const fake = await startFakeProducer([{ status: 202 }]);
    // The server would keep it for a minute (and says so in its Keep-Alive header).
    fake.server.keepAliveTimeout = 60_000;
    const seen = watchConnections(fake);
    const client = clientFor(fake.url, { keepAliveMs: 150 });
    await client.put('ds', 'k1', 'a');
    expect(seen.closed).toBe(0);
    await expect.poll(() => seen.closed, { timeout: 5_000, interval: 20 }).toBe(1);
    // The next call opens a fresh connection instead of writing into a closed one.
    await client.put('ds', 'k2', 'b');
    expect(seen.opened).toBe(2);
    expect(fake.requests).toHaveLength(2);
    await client.close();
  });
});

describe('ShardsyncClient errors', () => {
  it('a refusal keeps the producer\'s code, status and message, and is not retried', async () => {
    const fake = await startFakeProducer([{ status: 403, json: { error: 'SHARDSYNC_FORBIDDEN', message: 'token "svc" may not write dataset "models"' } }]);
    const client = clientFor(fake.url);
    const err = await rejection(client.put('models', 'k', 'x', { idempotencyKey: 'req-1' }));
    expect(err).toMatchObject({ code: 'SHARDSYNC_FORBIDDEN', status: 403, retriable: false, attempts: 1, idempotencyKey: 'req-1' });
    expect(err.message).toBe('put models/k: token "svc" may not write dataset "models"');
    expect(fake.requests).toHaveLength(1);
    await client.close();
  });

  it('an answer that is not the producer\'s JSON is SHARDSYNC_CLIENT_BAD_RESPONSE with its status', async () => {
    const fake = await startFakeProducer([{ status: 404, text: '<html>Not Found</html>' }]);
    const client = clientFor(fake.url);
    const err = await rejection(client.delete('ds', 'k'));
    expect(err).toMatchObject({ code: 'SHARDSYNC_CLIENT_BAD_RESPONSE', status: 404, retriable: false });
    expect(err.message).toContain('<html>Not Found</html>');
    await client.close();
  });

  it('a JSON error without a shardsync code (a web framework\'s 404 for a wrong baseUrl path) is SHARDSYNC_CLIENT_BAD_RESPONSE too', async () => {
    const notFound = { error: 'Not Found', message: 'Route DELETE:/gateway/v1/objects/ds/k not found', statusCode: 404 };
    const fake = await startFakeProducer([{ status: 404, json: notFound }]);
    const client = clientFor(`${fake.url}/gateway`);
    const err = await rejection(client.delete('ds', 'k'));
    expect(err).toMatchObject({ code: 'SHARDSYNC_CLIENT_BAD_RESPONSE', status: 404, retriable: false });
    expect(err.message).toContain('is baseUrl the producer?');
    expect(err.message).toContain('Route DELETE:/gateway/v1/objects/ds/k not found');
    await client.close();
  });

  it('a 202 without the Accepted fields is not retried, since the update may have been emitted', async () => {
    const fake = await startFakeProducer([{ status: 202, json: { ok: true } }]);
    const client = clientFor(fake.url);
    const err = await rejection(client.put('ds', 'k', 'x'));
    expect(err).toMatchObject({ code: 'SHARDSYNC_CLIENT_BAD_RESPONSE', status: 202, retriable: false, attempts: 1 });
    expect(fake.requests).toHaveLength(1);
    await client.close();
  });

  it('arguments that cannot travel over HTTP are refused before anything is sent', async () => {
    const fake = await startFakeProducer([{ status: 202 }]);
    const client = clientFor(fake.url);
    const cases: Array<[string, Promise<unknown>, string]> = [
      ['malformed digest', client.put('ds', 'k', 'x', { sha256: 'abc' }), 'sha256 must be 64 hexadecimal characters'],
      ['upper-case metadata name', client.put('ds', 'k', 'x', { metadata: { Owner: 'a' } }), 'metadata name "Owner"'],
      ['non-ASCII metadata value', client.put('ds', 'k', 'x', { metadata: { owner: 'zoë' } }), 'metadata "owner" must be printable ASCII'],
      ['empty key', client.put('ds', '', 'x'), 'key must be a non-empty string'],
      ['lone surrogate', client.put('ds', 'a\uD800', 'x'), 'lone UTF-16 surrogate'],
      ['overlong idempotency key', client.delete('ds', 'k', { idempotencyKey: 'x'.repeat(256) }), 'idempotencyKey must be 1 to 255'],
      ['negative content length', client.put('ds', 'k', () => Readable.from([]), { contentLength: -1 }), 'contentLength must be a non-negative integer'],
    ];
    for (const [what, call, message] of cases) {
      const err = await rejection(call);
      expect(err.code, what).toBe('SHARDSYNC_CLIENT_INVALID_ARGUMENT');
      expect(err.message, what).toContain(message);
    }
    expect(fake.requests).toHaveLength(0);
    await client.close();
  });

  it('printing the client shows its options but not its bearer token', () => {
    const client = clientFor('http://127.0.0.1:1');
    const printed = inspect(client);
    expect(printed).toContain('ShardsyncClient');
    expect(printed).toContain('127.0.0.1:1');
    expect(printed).not.toContain(client.options.token);
    void client.close();
  });

  it('a JSON logger (pino serializes with JSON.stringify) prints the client\'s options but not its bearer token', () => {
    const client = clientFor('http://127.0.0.1:1');
    const logged = JSON.stringify({ client });
    expect(logged).toContain('127.0.0.1:1');
    expect(logged).not.toContain(client.options.token);
    void client.close();
  });

  it('close() refuses new calls, and closing twice is harmless', async () => {
    const fake = await startFakeProducer([{ status: 202 }]);
    const client = clientFor(fake.url);
    await client.put('ds', 'k', 'x');
    await Promise.all([client.close(), client.close()]);
    const err = await rejection(client.put('ds', 'k', 'x'));
    expect(err.code).toBe('SHARDSYNC_CLIENT_CLOSED');
    expect(fake.requests).toHaveLength(1);
  });
});
