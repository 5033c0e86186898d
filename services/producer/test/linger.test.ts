import { once } from 'node:events';
import { Agent, createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { lingerAfterAnswer } from '../src/http/linger.js';

/** A server that refuses every request at once, before reading its body, then lingers `lingerMs`. */
async function refusingServer(lingerMs: number): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((req, res) => {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end('{"error":"SHARDSYNC_UNAUTHORIZED"}');
    lingerAfterAnswer(req, res, lingerMs);
  });
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(() => {
    server.closeAllConnections();
    server.close();
  });
  return { server, port: (server.address() as AddressInfo).port, connections: () => connections };
}

describe('lingerAfterAnswer', () => {
  it('cuts off a client that keeps sending after the answer once the linger is over', async () => {
    const { port } = await refusingServer(200);
    const req = request({ host: '127.0.0.1', port, method: 'PUT', path: '/', headers: { 'content-length': String(1024 ** 3) } });
    const answered = once(req, 'response') as Promise<[IncomingMessage]>;
    // Never ends: a chunk every 10 ms, ignoring the answer.
    const feeder = setInterval(() => req.write(Buffer.alloc(1024)), 10);
    onTestFinished(() => clearInterval(feeder));
    req.on('error', () => undefined);
    const [res] = await answered;
    expect(res.statusCode).toBe(401);
    res.resume();
    const { socket } = res;
    // Resolves only if the server ends the connection: the client alone never would. The end may
    // arrive as a reset (ECONNRESET: the server closed with unread bytes), so 'close', not once().
    if (!socket.destroyed) await new Promise((resolve) => socket.once('close', resolve));
    expect(socket.destroyed).toBe(true);
  });

  it('keeps the connection for the next request when the rest of the body arrives within the linger', async () => {
    const { port, connections } = await refusingServer(5_000);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    onTestFinished(() => agent.destroy());
    const send = () =>
      new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method: 'PUT', path: '/', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(Buffer.alloc(4 * 1024 * 1024));
      });
    expect(await send()).toBe(401);
    expect(await send()).toBe(401);
    expect(connections()).toBe(1);
  });
});
