import { createHash, hash } from 'node:crypto';
import { Transform, type TransformCallback, type TransformOptions } from 'node:stream';
import { InvalidDigestInputError } from './errors.js';

/** The SHA-256 (lowercase hex) and length in bytes of a body. */
export interface DigestResult {
  readonly sha256: string;
  readonly size: number;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** True when `value` is a lowercase hex SHA-256 digest (64 characters). */
export function isSha256Hex(value: string): boolean {
  return SHA256_HEX.test(value);
}

/**
 * Normalises an expected digest to lowercase hex, or throws {@link InvalidDigestInputError}.
 * Accepting uppercase keeps callers that copied a digest from another tool working.
 */
export function normaliseSha256Hex(value: string, what = 'sha256'): string {
  const lower = value.toLowerCase();
  if (!SHA256_HEX.test(lower)) {
    throw new InvalidDigestInputError(`${what} must be 64 hexadecimal characters, got ${JSON.stringify(value)}`);
  }
  return lower;
}

/**
 * SHA-256 of `data` as lowercase hex. Strings are hashed as their UTF-8 bytes. One-shot
 * `crypto.hash`: half the cost of a Hash object for the small bodies the producer hashes per update.
 */
export function sha256Hex(data: Uint8Array | string): string {
  return hash('sha256', data, 'hex');
}

/**
 * A pass-through stream that hashes the bytes flowing through it.
 *
 * The digest is computed in `_flush`, which Node runs before the readable side ends, so by the
 * time a consumer sees `'end'` (or `'finish'`), {@link HashingStream.result} is available.
 */
export class HashingStream extends Transform {
  #hash = createHash('sha256');
  #size = 0;
  #sha256: string | undefined;

  constructor(options?: Omit<TransformOptions, 'transform' | 'flush' | 'objectMode' | 'decodeStrings'>) {
    super(options);
  }

  /** Bytes seen so far; final once the stream has ended. */
  get size(): number {
    return this.#size;
  }

  /** Lowercase hex SHA-256 of all bytes, or `undefined` until the writable side has finished. */
  get sha256(): string | undefined {
    return this.#sha256;
  }

  /** Digest and size; throws if read before the stream finished, which is a wiring bug. */
  result(): DigestResult {
    if (this.#sha256 === undefined) {
      throw new Error('HashingStream.result() was read before the stream finished; wait for "end" or "finish"');
    }
    return { sha256: this.#sha256, size: this.#size };
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.#size += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.completeDigest();
    callback();
  }

  /** Finalises the hash once; subclasses call this from their own `_flush`. */
  protected completeDigest(): DigestResult {
    this.#sha256 ??= this.#hash.digest('hex');
    return { sha256: this.#sha256, size: this.#size };
  }
}

/**
 * Hashes everything a stream or async iterable yields. Strings are hashed as UTF-8, so give it
 * a byte stream (no `setEncoding`) when the body is binary.
 */
export async function hashStream(source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>): Promise<DigestResult> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of source) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    hash.update(bytes);
    size += bytes.byteLength;
  }
  return { sha256: hash.digest('hex'), size };
}
