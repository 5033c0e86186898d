import { once } from 'node:events';
import { Agent, createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { lingerAfterAnswer } from '../src/http/linger.js';

/**
 * A server that refuses every request, then lingers `lingerMs`: at once, before reading its body,
 * or (`readFirst`) after reading its first chunk through an async iterator it then abandons, as a
 * handler that failed part-way through a body does.
 */
async function refusingServer(lingerMs: number, readFirst = false): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((req, res) => {
    const refuse = () => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"error":"SHARDSYNC_UNAUTHORIZED"}');
      lingerAfterAnswer(req, res, lingerMs);
    };
    if (readFirst) void req[Symbol.asyncIterator]().next().then(refuse);
    else refuse();
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

/** A PUT of `size` bytes over `agent` (keep-alive); resolves with the answer's status once it is read. */
function putOver(agent: Agent, port: number, size: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'PUT', path: '/', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(Buffer.alloc(size));
  });
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
    const send = () => putOver(agent, port, 4 * 1024 * 1024);
    expect(await send()).toBe(401);
    expect(await send()).toBe(401);
    expect(connections()).toBe(1);
  });

  it('drains a body whose reading the handler abandoned part-way, so the connection serves the next request after the linger', async () => {
    const { port, connections } = await refusingServer(100, true);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    onTestFinished(() => agent.destroy());
    const send = () => putOver(agent, port, 1024 * 1024);
    expect(await send()).toBe(401);
    // Past the linger: a timer that outlived the drained body would cut this request off.
    await new Promise((r) => setTimeout(r, 300));
    expect(await send()).toBe(401);
    expect(connections()).toBe(1);
  });
});
