import { Readable } from 'node:stream';
import { invalidArgument } from './errors.js';
import type { PutBody } from './types.js';

/**
 * One attempt's body: bytes sent in one write, or a stream piped as it is read. `perAttempt`
 * marks a stream a factory opened for this attempt alone: the next attempt opens its own, so this
 * one is released whenever its attempt ends, read or not.
 */
export type AttemptBody = { kind: 'bytes'; bytes: Buffer } | { kind: 'stream'; stream: Readable; length: number | undefined; perAttempt: boolean };

/**
 * A put's body across the attempts of one call. Bytes and factories can be sent again; a plain
 * stream only until its first byte was read, since what was read is gone.
 */
export interface BodySource {
  /** The body for the next attempt. */
  open(): AttemptBody;
  /** Whether another attempt can send the whole body again. */
  canResend(): boolean;
  /** Marks the body as (partly) consumed: called when the first byte is handed to the socket. */
  markStarted(): void;
  /** Why {@link canResend} is false, for error messages. */
  readonly notResendableReason: string;
}

function contentLength(length: number | undefined): number | undefined {
  if (length === undefined) return undefined;
  if (!Number.isSafeInteger(length) || length < 0) throw invalidArgument(`contentLength must be a non-negative integer, got ${String(length)}`);
  return length;
}

export function isReadable(value: unknown): value is Readable {
  return value instanceof Readable || (typeof value === 'object' && value !== null && typeof (value as Readable).pipe === 'function' && typeof (value as Readable).on === 'function');
}

/**
 * Whether a stream was read from, ended or destroyed already: sending it would send only what is
 * left of it, and the producer would accept that as the whole object. One that failed (a file
 * that does not exist) is not "used": its own error reports it better.
 */
function alreadyUsed(stream: Readable): boolean {
  const used = stream.readableDidRead === true || stream.readableEnded === true || stream.destroyed === true;
  return used && !(stream.errored instanceof Error);
}

export function bodySource(body: PutBody, declaredLength: number | undefined): BodySource {
  if (typeof body === 'string' || body instanceof Uint8Array) {
    // Buffer.from over the same memory: no copy of a large Uint8Array.
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return { open: () => ({ kind: 'bytes', bytes }), canResend: () => true, markStarted: () => undefined, notResendableReason: '' };
  }
  const length = contentLength(declaredLength);
  if (typeof body === 'function') {
    return {
      open: () => {
        const stream = body();
        if (!isReadable(stream)) throw invalidArgument('the body factory must return a Readable stream');
        // The same instance handed out again (`() => stream`) would send only what an earlier
        // attempt left of it: after a whole first attempt, an empty body the producer accepts.
        if (alreadyUsed(stream)) {
          throw invalidArgument('the body factory returned a stream that was already read, ended or destroyed; it must open a new stream for every attempt, e.g. () => createReadStream(path)');
        }
        return { kind: 'stream', stream, length, perAttempt: true };
      },
      canResend: () => true,
      markStarted: () => undefined,
      notResendableReason: '',
    };
  }
  if (isReadable(body)) {
    // Read by the caller before the call (a header parsed off it, say): the rest is not the object.
    if (alreadyUsed(body)) throw invalidArgument('the body stream was already read from, ended or destroyed before the call; pass a stream positioned at the start of the object, or a factory `() => Readable`');
    let started = false;
    let opened = false;
    return {
      open: () => {
        if (opened && started) throw new Error('a single-use body stream was opened twice after it started');
        opened = true;
        return { kind: 'stream', stream: body, length, perAttempt: false };
      },
      canResend: () => !started,
      markStarted: () => {
        started = true;
      },
      notResendableReason:
        'not retried: the body was a stream that was partly or wholly sent, so the update may have been accepted; call again with this idempotencyKey and a new stream to find out (the producer answers a repeat with the first answer), and pass a factory `() => Readable` as the body to have such calls retried',
    };
  }
  throw invalidArgument('body must be a Buffer, Uint8Array, string, Readable or a function returning a Readable');
}
