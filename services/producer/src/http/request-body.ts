import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { ProducerError } from '../errors.js';

/** Reads a whole request body with a size cap; an oversized one gets 413 as soon as it passes the cap. */
export async function readBody(stream: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += buf.length;
    if (size > maxBytes) throw new ProducerError('SHARDSYNC_BODY_TOO_LARGE', `this request body may be at most ${maxBytes} bytes`);
    chunks.push(buf);
  }
  return chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size);
}

// Fatal: a body with a byte that is not UTF-8 is refused, never read with U+FFFD in its place
// (which could change a key or dataset name without anyone noticing).
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** `bytes` as JSON; a body that is not UTF-8 or not JSON gets a clear 400. */
export function parseJsonBody(bytes: Buffer): unknown {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch (cause) {
    throw new ProducerError('SHARDSYNC_INVALID_REQUEST', 'the body is not valid UTF-8', { cause });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new ProducerError('SHARDSYNC_INVALID_REQUEST', `the body is not valid JSON: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Reads a small JSON body with a size cap; malformed or oversized bodies get a clear 4xx. */
export async function readJsonBody(stream: Readable, maxBytes: number): Promise<unknown> {
  return parseJsonBody(await readBody(stream, maxBytes));
}

/**
 * Abandons the request when its body sends nothing for `idleMs` while it is being received: a
 * client that vanished mid-upload (no FIN, no reset) would otherwise hold its Idempotency-Key
 * (extended for as long as the request runs), its memory and its staging upload for good. The
 * request fails with 408 wherever its body is being read; the connection is closed, since the
 * rest of the body cannot be told from the next request. Only the body's reception counts: once
 * it is complete, waiting for Kafka or the store is not the client's idleness.
 */
export function abandonWhenIdle(req: IncomingMessage, idleMs: number): void {
  if (req.complete) return;
  // IncomingMessage.setTimeout arms the socket's idle timer; Node emits 'timeout' on the request
  // only while it is incomplete, and re-arms the socket for keep-alive after the answer.
  req.setTimeout(idleMs, () => {
    if (req.complete) return;
    req.destroy(new ProducerError('SHARDSYNC_REQUEST_TIMEOUT', `the request body sent nothing for ${idleMs} ms; the request was abandoned (SHARDSYNC_PRODUCER_BODY_IDLE_TIMEOUT_MS)`));
  });
  req.once('end', () => req.socket.setTimeout(0));
}
