import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ProducerError } from '../src/errors.js';
import { lingerAfterAnswer } from '../src/http/linger.js';
import { readBody } from '../src/http/request-body.js';

/**
 * A server that waits `beforeReadMs` (a claim in Redis, a busy event loop), reads the body with
 * the idle limit (and `closing`), waits `afterBodyMs` (Kafka) and answers 200; a failed read is
 * answered with its status and lingers 200 ms, as the producer's error handler does.
 */
async function server(idleMs: number, { beforeReadMs = 0, afterBodyMs = 0, closing, failures }: { beforeReadMs?: number; afterBodyMs?: number; closing?: AbortSignal; failures?: unknown[] } = {}) {
  const srv = createServer((req: IncomingMessage, res) => {
    const read = async () => {
      await new Promise((resolve) => setTimeout(resolve, beforeReadMs));
      const body = await readBody(req, 1024 * 1024, idleMs, closing);
      await new Promise((resolve) => setTimeout(resolve, afterBodyMs));
      res.end(`read ${body.length}`);
    };
    read().catch((err: unknown) => {
      failures?.push(err);
      res.writeHead(err instanceof ProducerError ? err.status : 500).end(err instanceof ProducerError ? err.code : String(err));
      lingerAfterAnswer(req, res, 200);
    });
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  onTestFinished(() => {
    srv.closeAllConnections();
    srv.close();
  });
  return (srv.address() as AddressInfo).port;
}

/** A PUT announcing `length` bytes, of which `sent` go out now; collects what the server answers. */
async function put(port: number, length: number, sent: number) {
  const socket = connect(port, '127.0.0.1');
  onTestFinished(() => void socket.destroy());
  await once(socket, 'connect');
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
  socket.write(`PUT /x HTTP/1.1\r\nhost: x\r\ncontent-length: ${length}\r\n\r\n${'a'.repeat(sent)}`);
  return { socket, answer: () => answer, closed: once(socket, 'close') };
}

describe('reading a request body with an idle limit', () => {
  it('a body that stops sending gets a 408 answer, and its connection is closed after lingering', async () => {
    const port = await server(300);
    const started = Date.now();
    const { answer, closed } = await put(port, 1000, 10);
    await closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(450); // 300 ms idle, then 200 ms lingering
    expect(answer()).toMatch(/^HTTP\/1\.1 408 .*SHARDSYNC_REQUEST_TIMEOUT/s);
  });

  it('only the waits for the client count: a late reader, a slow but steady body and a slow answer after it are not idleness', async () => {
    const port = await server(300, { beforeReadMs: 700, afterBodyMs: 700 });
    const { socket, answer } = await put(port, 30, 10);
    for (let i = 0; i < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      socket.write('b'.repeat(10));
    }
    await new Promise<void>((resolve) => socket.on('data', () => answer().endsWith('read 30') && resolve()));
    expect(answer()).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('a body still arriving when the producer closes gets a 503 answer at once, not after the idle limit, and so does one read after that', async () => {
    const closing = new AbortController();
    const port = await server(10_000, { closing: closing.signal });
    const waiting = await put(port, 1000, 10);
    // The server is waiting for the rest of the body.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const cut = Date.now();
    closing.abort();
    await waiting.closed;
    expect(Date.now() - cut).toBeLessThan(2000); // the answer, then 200 ms lingering
    expect(waiting.answer()).toMatch(/^HTTP\/1\.1 503 .*SHARDSYNC_UNAVAILABLE/s);

    const late = await put(port, 1000, 10);
    await late.closed;
    expect(late.answer()).toMatch(/^HTTP\/1\.1 503 .*SHARDSYNC_UNAVAILABLE/s);
  });

  it("a client that closes its connection mid-body fails the read as the client's doing (499), not as a failure of the producer", async () => {
    const failures: unknown[] = [];
    const port = await server(10_000, { failures });
    const { socket } = await put(port, 1000, 10);
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ code: 'SHARDSYNC_CLIENT_CLOSED_REQUEST', status: 499 });
  });
});
