import type { Readable } from 'node:stream';
import { ProducerError } from '../errors.js';

/** Reads a small JSON body with a size cap; malformed or oversized bodies get a clear 4xx. */
export async function readJsonBody(stream: Readable, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += buf.length;
    if (size > maxBytes) throw new ProducerError('SHARDSYNC_BODY_TOO_LARGE', `a JSON request body may be at most ${maxBytes} bytes`);
    chunks.push(buf);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new ProducerError('SHARDSYNC_INVALID_REQUEST', `the body is not valid JSON: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}
