import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ACCEPTED, startFakeProducer } from './fake-producer.js';
import { rejection } from './rejection.js';
import { clientFor, freePort, UNAVAILABLE, waitForLength } from './client-fixtures.js';

/** Bodies across attempts: factories, plain streams, declared lengths, streams that fail. */
describe('ShardsyncClient bodies and retries', () => {
  it('a body factory is called again for every attempt', async () => {
    const fake = await startFakeProducer([UNAVAILABLE, { status: 202 }]);
    const client = clientFor(fake.url);
    let opened = 0;
    await client.put('ds', 'k', () => {
      opened += 1;
      return Readable.from([Buffer.from('chunk-1;'), Buffer.from('chunk-2')]);
    });
    expect(opened).toBe(2);
    expect(fake.requests.map((r) => r.body.toString())).toEqual(['chunk-1;chunk-2', 'chunk-1;chunk-2']);
    expect(fake.requests[0]?.headers['transfer-encoding']).toBe('chunked');
    await client.close();
  });

  it('a body factory that hands out a stream already read is refused at the retry, instead of resending what is left of it (an empty body)', async () => {
    const fake = await startFakeProducer([UNAVAILABLE, { status: 202 }]);
    const client = clientFor(fake.url);
    const once = Readable.from([Buffer.from('payload')]);
    const err = await rejection(client.put('ds', 'k', () => once));
    expect(err).toMatchObject({ code: 'SHARDSYNC_CLIENT_INVALID_ARGUMENT', retriable: false, attempts: 2 });
    expect(err.message).toContain('must open a new stream');
    expect(fake.requests.map((r) => r.body.toString())).toEqual(['payload']);
    await client.close();
  });

  it('a plain stream the caller already read from is refused before anything is sent, instead of uploading the rest of it as the object', async () => {
    const fake = await startFakeProducer([{ status: 202 }]);
    const client = clientFor(fake.url);
    const stream = Readable.from([Buffer.from('header;'), Buffer.from('object')]);
    stream.read(); // the caller consumed the first chunk
    const err = await rejection(client.put('ds', 'k', stream));
    expect(err).toMatchObject({ code: 'SHARDSYNC_CLIENT_INVALID_ARGUMENT', retriable: false });
    expect(err.message).toContain('already read from');
    expect(fake.requests).toHaveLength(0);
    await client.close();
  });

  it('a plain stream is not resent once read, and the error says the update may have been accepted and to pass a factory', async () => {
    const fake = await startFakeProducer([UNAVAILABLE, { status: 202 }]);
    const client = clientFor(fake.url);
    const err = await rejection(client.put('ds', 'k', Readable.from([Buffer.from('once')]), { contentLength: 4 }));
    expect(err).toMatchObject({ code: 'SHARDSYNC_UNAVAILABLE', retriable: true, attempts: 1 });
    expect(err.message).toContain('the update may have been accepted; call again with this idempotencyKey');
    expect(err.message).toContain('pass a factory `() => Readable`');
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]?.headers['content-length']).toBe('4');
    await client.close();
  });

  it('a plain stream is still retried when the producer could not be reached before its first byte', async () => {
    const port = await freePort();
    let fakeStarted: Promise<unknown> | undefined;
    const client = clientFor(`http://127.0.0.1:${port}`, {
      retry: { maxAttempts: 20, initialDelayMs: 50, maxDelayMs: 200 },
      // The producer comes up while the client waits to retry the refused connection.
      onRetry: () => {
        fakeStarted ??= startFakeProducer([{ status: 202 }], port);
      },
    });
    const accepted = await client.put('ds', 'k', Readable.from([Buffer.from('never lost')]));
    expect(accepted.eventId).toBe(ACCEPTED().eventId);
    const fake = (await fakeStarted) as Awaited<ReturnType<typeof startFakeProducer>>;
    expect(fake.requests.map((r) => r.body.toString())).toEqual(['never lost']);
    await client.close();
  });

  it('every stream a body factory opened is destroyed when the producer could not be reached', async () => {
    const port = await freePort();
    const client = clientFor(`http://127.0.0.1:${port}`, { retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 } });
    // Stand-ins for createReadStream(path): each one left open would hold a file descriptor.
    const opened: PassThrough[] = [];
    const err = await rejection(
      client.put('ds', 'k', () => {
        const stream = new PassThrough();
        stream.end('never sent');
        opened.push(stream);
        return stream;
      }),
    );
    expect(err).toMatchObject({ code: 'SHARDSYNC_CLIENT_NETWORK', retriable: true, attempts: 3 });
    expect(opened.map((s) => s.destroyed)).toEqual([true, true, true]);
    await client.close();
  });

  it('a plain stream whose call failed before reading it is released: the client owns it, and its file stays open otherwise', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shardsync-client-'));
    const path = join(dir, 'body.bin');
    await writeFile(path, 'never sent');
    const client = clientFor(`http://127.0.0.1:${await freePort()}`, { retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 2 } });
    try {
      const stream = createReadStream(path);
      const err = await rejection(client.put('ds', 'k', stream));
      expect(err).toMatchObject({ code: 'SHARDSYNC_CLIENT_NETWORK', attempts: 2 });
      expect(stream.destroyed).toBe(true);
      await expect.poll(() => stream.closed).toBe(true);
      // The same when the call is aborted before its first attempt.
      const aborted = createReadStream(path);
      expect((await rejection(client.put('ds', 'k', aborted, { signal: AbortSignal.abort() }))).code).toBe('SHARDSYNC_CLIENT_ABORTED');
      expect(aborted.destroyed).toBe(true);
    } finally {
      await client.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a stream is sent while it is read, never collected first', async () => {
    let firstChunkArrived!: () => void;
    const arrived = new Promise<void>((resolve) => (firstChunkArrived = resolve));
    const fake = await startFakeProducer([
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => {
          chunks.push(c);
          firstChunkArrived();
        });
        req.on('end', () => {
          res.writeHead(202, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ ...ACCEPTED(), size: Buffer.concat(chunks).length }));
        });
      },
    ]);
    const client = clientFor(fake.url);
    const body = new PassThrough();
    const call = client.put('ds', 'k', body);
    body.write('first;');
    // The rest of the body exists only after the producer has received the first part.
    await arrived;
    body.end('second');
    expect((await call).size).toBe('first;second'.length);
    await client.close();
  });

  it('an answer before the body was read ends the upload and releases the stream', async () => {
    const fake = await startFakeProducer([
      (_req, res) => {
        res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
        res.end(JSON.stringify({ error: 'SHARDSYNC_BODY_TOO_LARGE', message: 'the body is 1099511627776 bytes; this producer accepts at most 1024' }));
      },
    ]);
    const client = clientFor(fake.url);
    // An endless body: the call can only end because the early answer stops the upload.
    const endless = new Readable({
      read() {
        this.push(Buffer.alloc(64 * 1024));
      },
    });
    const err = await rejection(client.put('ds', 'k', endless, { contentLength: 1024 ** 4 }));
    expect(err).toMatchObject({ code: 'SHARDSYNC_BODY_TOO_LARGE', status: 413, retriable: false });
    expect(endless.destroyed).toBe(true);
    await client.close();
  });

  it('a body stream that fails ends the call with SHARDSYNC_CLIENT_BODY_FAILED, not retried', async () => {
    const fake = await startFakeProducer([(req) => req.resume()]);
    const client = clientFor(fake.url);
    const failing = new Readable({
      read() {
        this.destroy(new Error('disk read error'));
      },
    });
    const err = await rejection(client.put('ds', 'k', () => failing));
    expect(err).toMatchObject({ code: 'SHARDSYNC_CLIENT_BODY_FAILED', retriable: false, attempts: 1 });
    expect(err.message).toContain('disk read error');
    await client.close();
  });

  describe('a stream that does not match its contentLength', () => {
    /** A fake producer that records how many body bytes each request delivered and whether it completed. */
    async function recordingProducer() {
      const received: Array<{ bytes: number; complete: boolean }> = [];
      const fake = await startFakeProducer([
        (req, res) => {
          let bytes = 0;
          req.on('data', (c: Buffer) => (bytes += c.length));
          req.on('end', () => res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify(ACCEPTED())));
          req.on('close', () => received.push({ bytes, complete: req.complete }));
        },
      ]);
      return { fake, received };
    }

    it('longer: fails before the last declared byte is sent, so the producer never gets a complete (truncated) body; not retried', async () => {
      const { fake, received } = await recordingProducer();
      const client = clientFor(fake.url);
      const err = await rejection(client.put('ds', 'k', () => Readable.from([Buffer.alloc(6000), Buffer.alloc(6000)]), { contentLength: 10_000 }));
      expect(err).toMatchObject({ code: 'SHARDSYNC_CLIENT_INVALID_ARGUMENT', retriable: false, attempts: 1 });
      expect(err.message).toContain('longer than its contentLength of 10000 bytes');
      await waitForLength(received, 1);
      expect(received[0]?.complete).toBe(false);
      expect(received[0]?.bytes).toBeLessThan(10_000);
      await client.close();
    });

    it('shorter: fails when the stream ends instead of waiting for bytes that never come; not retried', async () => {
      const { fake, received } = await recordingProducer();
      const client = clientFor(fake.url, { idleTimeoutMs: 30_000 });
      const started = Date.now();
      const err = await rejection(client.put('ds', 'k', () => Readable.from([Buffer.from('abcdef')]), { contentLength: 10 }));
      expect(err).toMatchObject({ code: 'SHARDSYNC_CLIENT_INVALID_ARGUMENT', retriable: false, attempts: 1 });
      expect(err.message).toContain('ended after 6 bytes, short of its contentLength of 10');
      expect(Date.now() - started).toBeLessThan(10_000); // not the idle timeout
      await waitForLength(received, 1);
      expect(received[0]?.complete).toBe(false);
      await client.close();
    });

    it('exact, down to a stream declared empty: sent whole', async () => {
      const { fake, received } = await recordingProducer();
      const client = clientFor(fake.url);
      await client.put('ds', 'k', () => Readable.from([Buffer.alloc(3000), Buffer.alloc(1)]), { contentLength: 3001 });
      await client.put('ds', 'k', () => Readable.from([]), { contentLength: 0 });
      await waitForLength(received, 2);
      expect(received).toEqual([
        { bytes: 3001, complete: true },
        { bytes: 0, complete: true },
      ]);
      await client.close();
    });

    it('exact, with an empty chunk after its last byte (a generator\'s last yield): sent whole, not held until the idle timeout', async () => {
      const { fake, received } = await recordingProducer();
      const client = clientFor(fake.url, { idleTimeoutMs: 2000, retry: { maxAttempts: 1 } });
      await client.put('ds', 'k', () => Readable.from([Buffer.from('abc'), Buffer.alloc(0)]), { contentLength: 3 });
      await waitForLength(received, 1);
      expect(received).toEqual([{ bytes: 3, complete: true }]);
      await client.close();
    });

    it('empty but declared so: a byte too many fails the call and the producer gets no complete request', async () => {
      const { fake, received } = await recordingProducer();
      const client = clientFor(fake.url);
      const err = await rejection(client.put('ds', 'k', () => Readable.from([Buffer.from('x')]), { contentLength: 0 }));
      expect(err.code).toBe('SHARDSYNC_CLIENT_INVALID_ARGUMENT');
      // The request is destroyed before its headers leave, or while its chunked body is open.
      await new Promise((r) => setTimeout(r, 100));
      expect(received.filter((r) => r.complete)).toEqual([]);
      await client.close();
    });
  });

  it('a body stream that fails before the connection opens ends the call with SHARDSYNC_CLIENT_BODY_FAILED, not a crash', async () => {
    const client = clientFor(`http://127.0.0.1:${await freePort()}`);
    const err = await rejection(
      client.put('ds', 'k', () => {
        // Like a file stream whose file does not exist: the error comes on the next tick.
        const stream = new PassThrough();
        stream.destroy(new Error('no such file'));
        return stream;
      }),
    );
    expect(err).toMatchObject({ code: 'SHARDSYNC_CLIENT_BODY_FAILED', retriable: false });
    expect(err.message).toContain('no such file');
    await client.close();
  });
});
