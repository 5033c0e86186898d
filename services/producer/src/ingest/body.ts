import { Readable } from 'node:stream';
import { hashStream } from '@shardsync/integrity';
import { ProducerError } from '../errors.js';

export type BodyStart =
  | { kind: 'complete'; bytes: Buffer }
  | { kind: 'streaming'; stream: Readable };

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return Buffer.from(String(chunk));
}

/**
 * A body already whole (a batch item) is inline or streamed as it is. A stream is read for at most
 * `inlineMaxBytes + 1` bytes to learn whether the body is small enough to travel inline. A larger body comes back as one stream (what was read, then the rest), with
 * `maxBytes` enforced while it flows, so it is never held whole in memory. `onBytes` sees the
 * streamed chunks as they are consumed (a 'data' listener would steal them from the reader).
 */
export async function startBody(body: AsyncIterable<unknown> | Buffer, inlineMaxBytes: number, maxBytes: number, onBytes: (n: number) => void = () => undefined): Promise<BodyStart> {
  // The limit holds for inline bodies too: it may be configured below the inline limit.
  if (Buffer.isBuffer(body)) {
    if (body.length > maxBytes) throw new ProducerError('SHARDSYNC_BODY_TOO_LARGE', `the body is ${body.length} bytes; this producer accepts at most ${maxBytes}`);
    if (body.length <= inlineMaxBytes) return { kind: 'complete', bytes: body };
    onBytes(body.length);
    return { kind: 'streaming', stream: Readable.from([body], { objectMode: false }) };
  }
  const iterator = body[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let size = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done === true) return { kind: 'complete', bytes: Buffer.concat(head, size) };
    const chunk = toBuffer(next.value);
    head.push(chunk);
    size += chunk.length;
    if (size > maxBytes) throw new ProducerError('SHARDSYNC_BODY_TOO_LARGE', `the body exceeds this producer's limit of ${maxBytes} bytes`);
    if (size > inlineMaxBytes) break;
  }
  async function* rest(): AsyncGenerator<Buffer> {
    yield* head.splice(0);
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) return;
      yield toBuffer(next.value);
    }
  }
  return { kind: 'streaming', stream: Readable.from(limited(rest(), maxBytes, onBytes), { objectMode: false }) };
}

/**
 * Lower-case hex SHA-256 of a whole body, read to its end without keeping it (a retried request's
 * body, compared with the first one's); more than `maxBytes` is refused as it would be on a first try.
 */
export async function bodySha256(body: AsyncIterable<unknown> | Buffer, maxBytes: number, onBytes: (n: number) => void = () => undefined): Promise<string> {
  return (await hashStream(limited(Buffer.isBuffer(body) ? [body] : body, maxBytes, onBytes))).sha256;
}

/** The chunks as Buffers, each counted into `onBytes`; fails once more than `maxBytes` went by. */
async function* limited(chunks: AsyncIterable<unknown> | Iterable<unknown>, maxBytes: number, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of chunks) {
    const bytes = toBuffer(chunk);
    total += bytes.length;
    onBytes(bytes.length);
    if (total > maxBytes) throw new ProducerError('SHARDSYNC_BODY_TOO_LARGE', `the body exceeds this producer's limit of ${maxBytes} bytes`);
    yield bytes;
  }
}

/**
 * The chunks of a request body, failing with 408 when one does not arrive within `idleMs` of
 * being asked for: a client that vanished mid-upload (no FIN, no reset) would otherwise hold
 * its Idempotency-Key (extended for as long as the request runs), its memory and its staging
 * upload for good. Only the waits for the client count: time the reader spends elsewhere (a slow
 * store taking the previous part, Kafka after the body) is not the client's idleness. The
 * answer then ends the connection after lingering (`lingerAfterAnswer`), as any early answer.
 *
 * Once `closing` fires (the producer's shutdown cuts requests short), the body fails the same way
 * with 503 at its next wait, or at once if one is under way, so that a body that would outlast
 * the shutdown grace period fails its reader, which aborts its staging upload, instead of
 * keeping the upload running until the process exits and leaving it behind.
 */
export async function* whileSending(body: AsyncIterable<unknown>, idleMs: number, closing?: AbortSignal): AsyncGenerator<unknown> {
  const chunks = body[Symbol.asyncIterator]();
  let finished = false;
  // Given up on by the reader's side (idle, closing): the client has not been answered yet.
  let abandoned = false;
  try {
    for (;;) {
      if (closing?.aborted === true) {
        abandoned = true;
        throw producerClosing();
      }
      const next = chunks.next();
      let abandon: (err: ProducerError) => void = () => undefined;
      const given = new Promise<never>((_, reject) => {
        abandon = (err) => {
          abandoned = true;
          reject(err);
        };
      });
      const timer = setTimeout(
        () => abandon(new ProducerError('SHARDSYNC_REQUEST_TIMEOUT', `the request body sent nothing for ${idleMs} ms; the request was abandoned (SHARDSYNC_PRODUCER_BODY_IDLE_TIMEOUT_MS)`)),
        idleMs,
      );
      const onClosing = (): void => abandon(producerClosing());
      closing?.addEventListener('abort', onClosing, { once: true });
      // The read an abandoned wait leaves behind settles once the answer's lingering resumes the body: not unhandled.
      next.catch(() => undefined);
      let result: IteratorResult<unknown>;
      try {
        result = await Promise.race([next, given]);
      } catch (err) {
        if (err instanceof ProducerError) throw err;
        // The request stream failed: its connection was closed or reset before the body ended.
        // The client's doing (or the network's), not a store's failure: no 5xx to alert on.
        throw new ProducerError('SHARDSYNC_CLIENT_CLOSED_REQUEST', `the connection closed before the request body ended (${err instanceof Error ? err.message : String(err)}); nothing was stored or emitted`, { cause: err });
      } finally {
        clearTimeout(timer);
        closing?.removeEventListener('abort', onClosing);
      }
      if (result.done === true) {
        finished = true;
        return;
      }
      yield result.value;
    }
  } finally {
    // A reader that stopped early stops the body (a Readable's iterator destroys it), as a plain
    // for-await would. Not after the body was abandoned: destroying the request would close the
    // connection before the 408 or 503 is written; the answer's lingering drains or cuts the body instead.
    if (!finished && !abandoned) await chunks.return?.();
  }
}

function producerClosing(): ProducerError {
  return new ProducerError(
    'SHARDSYNC_UNAVAILABLE',
    'the producer is shutting down and the request body was still arriving; the request was abandoned and nothing was emitted: retry it (with the same Idempotency-Key, if any)',
  );
}
