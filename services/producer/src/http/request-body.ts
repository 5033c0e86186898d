import type { Readable } from 'node:stream';
import { ProducerError } from '../errors.js';
import { whileSending } from '../ingest/body.js';

/**
 * Reads a whole request body with a size cap; an oversized one gets 413 as soon as it passes the
 * cap, one that sends nothing for `idleMs` while it is read gets 408, one still arriving when
 * `closing` fires gets 503 (see `whileSending`).
 */
export async function readBody(stream: Readable, maxBytes: number, idleMs: number, closing?: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of whileSending(stream, idleMs, closing)) {
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

/** Reads a small JSON body with a size cap; malformed, oversized or stalled bodies get a clear 4xx. */
export async function readJsonBody(stream: Readable, maxBytes: number, idleMs: number, closing?: AbortSignal): Promise<unknown> {
  return parseJsonBody(await readBody(stream, maxBytes, idleMs, closing));
}
