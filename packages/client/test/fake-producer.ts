import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';

/** What the fake producer saw of one request. */
export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/**
 * How the fake answers one request: a status with a JSON body (default: a 202 `Accepted`
 * echoing the path), `drop` to read the request and then cut the connection without an answer,
 * `hang` to read it and never answer, or a handler of its own.
 */
export type FakeReply =
  | { status: number; json?: unknown; text?: string; headers?: Record<string, string> }
  | 'drop'
  | 'hang'
  | ((req: IncomingMessage, res: ServerResponse) => void);

export interface FakeProducer {
  url: string;
  port: number;
  requests: RecordedRequest[];
  server: Server;
}

export const ACCEPTED = (dataset = 'ds', key = 'k') => ({
  eventId: '6c4c5b1e-6c2f-4d1b-9a43-8c1f6f1d2a10',
  dataset,
  key,
  version: '0000018f3a2b1c4d-0000-producer-1',
  sha256: 'a'.repeat(64),
  size: 3,
});

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A local HTTP server that answers the client's requests from a script, one reply per request
 * (the last reply repeats), and records what it received. Closed when the test ends.
 */
export async function startFakeProducer(replies: FakeReply[], port = 0): Promise<FakeProducer> {
  const requests: RecordedRequest[] = [];
  let next = 0;
  const server = createServer((req, res) => {
    const reply = replies[Math.min(next, replies.length - 1)] ?? { status: 202 };
    next += 1;
    if (typeof reply === 'function') {
      reply(req, res);
      return;
    }
    void readBody(req).then((body) => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (reply === 'drop') {
        req.socket.destroy();
        return;
      }
      if (reply === 'hang') return;
      const text = reply.text ?? JSON.stringify(reply.json ?? ACCEPTED());
      res.writeHead(reply.status, { 'content-type': reply.text === undefined ? 'application/json' : 'text/html', ...reply.headers });
      res.end(text);
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const actualPort = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${actualPort}`, port: actualPort, requests, server };
}
