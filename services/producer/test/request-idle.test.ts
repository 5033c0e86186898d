import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { abandonWhenIdle, readBody } from '../src/http/request-body.js';

/**
 * A server whose handler reads each request's body with the idle limit, then waits `afterBodyMs`
 * (a slow Kafka) before answering 200; what reading the body ended with is kept per request.
 */
async function server(idleMs: number, afterBodyMs = 0) {
  const outcomes: Array<{ bytes: number } | { error: unknown }> = [];
  const srv = createServer((req: IncomingMessage, res) => {
    abandonWhenIdle(req, idleMs);
    readBody(req, 1024 * 1024).then(
      async (body) => {
        outcomes.push({ bytes: body.length });
        await new Promise((resolve) => setTimeout(resolve, afterBodyMs));
        res.end('done');
      },
      (error: unknown) => outcomes.push({ error }),
    );
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  onTestFinished(() => {
    srv.closeAllConnections();
    srv.close();
  });
  return { port: (srv.address() as AddressInfo).port, outcomes };
}

/** Sends a PUT announcing `length` bytes but only `sent` of them, and keeps the connection open. */
async function stalledPut(port: number, length: number, sent: number) {
  const socket = connect(port, '127.0.0.1');
  onTestFinished(() => void socket.destroy());
  await once(socket, 'connect');
  socket.write(`PUT /x HTTP/1.1\r\nhost: x\r\ncontent-length: ${length}\r\n\r\n${'a'.repeat(sent)}`);
  const closed = once(socket, 'close').then(() => true);
  return { socket, closed };
}

describe('abandonWhenIdle', () => {
  it('a body that stops sending is abandoned with SHARDSYNC_REQUEST_TIMEOUT and its connection closed', async () => {
    const { port, outcomes } = await server(300);
    const started = Date.now();
    const { closed } = await stalledPut(port, 1000, 10);
    expect(await closed).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ error: { code: 'SHARDSYNC_REQUEST_TIMEOUT', status: 408, retriable: true } });
  });

  it('a body that keeps sending slowly is read whole, and the wait after it (Kafka, the store) is not idleness', async () => {
    const { port, outcomes } = await server(300, 700);
    const { socket } = await stalledPut(port, 30, 10);
    for (let i = 0; i < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      socket.write('b'.repeat(10));
    }
    const answer = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.endsWith('done')) resolve(text);
      });
    });
    expect(await answer).toMatch(/^HTTP\/1\.1 200/);
    expect(outcomes).toEqual([{ bytes: 30 }]);
  });
});
