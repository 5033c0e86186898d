import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { InvalidArgumentError, SizeMismatchError } from './errors.js';
import type { PartBufferPool } from './part-buffers.js';

/** Limits a {@link PartReader} enforces while reading. */
export interface PartReaderLimits {
  /** Announced size: reading more, or ending with less, fails with `SizeMismatchError`. */
  readonly size?: number | undefined;
  /** Largest body accepted at all. */
  readonly maxBytes: number;
}

/**
 * Cuts a body into parts of exactly `partSize` bytes (the last one shorter), hashing SHA-256 on
 * the way. Reads only when asked for the next part, so with `for await` back-pressure the source
 * is never read further ahead than one part: memory stays bounded by the parts the caller holds.
 *
 * SHA-256 is computed inline with node:crypto rather than through `@shardsync/integrity`'s
 * `HashingStream`, because the reader already sees every chunk and a pass-through stage would
 * only add buffering.
 */
export class PartReader {
  readonly #source: Readable | undefined;
  readonly #iterator: AsyncIterator<unknown>;
  readonly #partSize: number;
  readonly #limits: PartReaderLimits;
  readonly #pool: PartBufferPool | undefined;
  readonly #hash = createHash('sha256');
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #bytesRead = 0;
  #ended = false;
  #sha256: string | undefined;

  /**
   * @param pool where parts assembled from several chunks get their memory (blocks of `partSize`
   *   bytes); the caller releases each part there once it is done with it. Without one, each such
   *   part is a fresh allocation.
   */
  constructor(source: Readable | Uint8Array, partSize: number, limits: PartReaderLimits, pool?: PartBufferPool) {
    this.#partSize = partSize;
    this.#limits = limits;
    this.#pool = pool;
    if (source instanceof Readable) {
      this.#source = source;
      this.#iterator = source[Symbol.asyncIterator]();
    } else {
      this.#source = undefined;
      let unread: Uint8Array | undefined = source;
      this.#iterator = {
        next: () => {
          const value = unread;
          unread = undefined;
          return Promise.resolve(value === undefined ? { done: true, value: undefined } : { done: false, value });
        },
      };
    }
  }

  /** Bytes read from the source so far. */
  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** True once the source ended and every part was handed out. */
  get done(): boolean {
    return this.#ended && this.#pendingBytes === 0;
  }

  /** Lower-case hex SHA-256 of the whole body; only after {@link next} returned `undefined`. */
  get sha256(): string {
    if (this.#sha256 === undefined) throw new Error('PartReader.sha256 was read before the body ended');
    return this.#sha256;
  }

  /** The next part, or `undefined` at the end of the body. */
  async next(): Promise<Buffer | undefined> {
    while (!this.#ended && this.#pendingBytes < this.#partSize) await this.#pull();
    if (this.#pendingBytes === 0) return undefined;
    const take = Math.min(this.#partSize, this.#pendingBytes);
    const chunks: Buffer[] = [];
    let have = 0;
    while (have < take) {
      const head = this.#pending.shift();
      if (head === undefined) break;
      const need = take - have;
      if (head.byteLength > need) {
        chunks.push(head.subarray(0, need));
        this.#pending.unshift(head.subarray(need));
        have += need;
      } else {
        chunks.push(head);
        have += head.byteLength;
      }
    }
    this.#pendingBytes -= take;
    const [only] = chunks;
    if (chunks.length === 1 && only !== undefined) return only;
    if (this.#pool === undefined) return Buffer.concat(chunks, take);
    const part = this.#pool.acquire(take, this.#partSize);
    let offset = 0;
    for (const chunk of chunks) {
      part.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return part;
  }

  /**
   * Stops reading and destroys the source stream (without an error, so a stream with no 'error'
   * listener cannot crash the process). Called when a put fails or is aborted, like
   * `stream.pipeline` would, so an upstream (an HTTP request body) is released rather than left paused.
   */
  destroy(): void {
    this.#ended = true;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#source?.destroy();
  }

  async #pull(): Promise<void> {
    const result = await this.#iterator.next();
    if (this.#ended) return; // destroyed while waiting
    if (result.done === true) {
      this.#ended = true;
      const { size } = this.#limits;
      if (size !== undefined && this.#bytesRead !== size) {
        throw new SizeMismatchError(`body ended after ${this.#bytesRead} bytes but ${size} were announced; nothing was stored`);
      }
      this.#sha256 = this.#hash.digest('hex');
      return;
    }
    const chunk: unknown = result.value;
    if (!(chunk instanceof Uint8Array)) {
      throw new InvalidArgumentError('the body stream must yield bytes (Buffer/Uint8Array); remove setEncoding() or objectMode');
    }
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.#bytesRead += buffer.byteLength;
    const { size, maxBytes } = this.#limits;
    if (size !== undefined && this.#bytesRead > size) {
      throw new SizeMismatchError(`body is longer than the announced ${size} bytes; nothing was stored`);
    }
    if (this.#bytesRead > maxBytes) {
      throw new InvalidArgumentError(`body is larger than ${maxBytes} bytes, the most partSizeBytes x 10000 parts can hold; raise partSizeBytes`);
    }
    this.#hash.update(buffer);
    if (buffer.byteLength > 0) {
      this.#pending.push(buffer);
      this.#pendingBytes += buffer.byteLength;
    }
  }
}
