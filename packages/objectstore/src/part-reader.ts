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
 * A part being read from a stream moves into pooled memory once it holds this many bytes: from then
 * on every chunk is copied there as it arrives. Chunks held until their part was complete (16 MiB
 * of 64 KiB socket reads) outlived V8's young-generation collections, were promoted and then
 * freed only by full collections, which V8 starts for every 64 MiB of such memory: in the bulk
 * benchmark's CPU profiles (perf), those full collections were 30% of a consumer's CPU. A copied
 * chunk dies young. Below this size a body (an inline-size object) never takes a pooled block.
 */
const POOL_AFTER_BYTES = 256 * 1024;

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
  /** Chunks read and not yet in a part (nor in {@link #assembling}). */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** The pooled part that chunks are copied into as they arrive, and how much of it is filled. */
  #assembling: Buffer | undefined;
  #filled = 0;
  #bytesRead = 0;
  #ended = false;
  #sha256: string | undefined;

  /**
   * @param pool where parts streamed in many chunks are assembled (blocks of `partSize` bytes);
   *   the caller releases each part there once it is done with it. Without one, or for a small
   *   body, a part is its one chunk or a fresh buffer joining its chunks.
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
    return this.#ended && this.#buffered() === 0;
  }

  /** Lower-case hex SHA-256 of the whole body; only after {@link next} returned `undefined`. */
  get sha256(): string {
    if (this.#sha256 === undefined) throw new Error('PartReader.sha256 was read before the body ended');
    return this.#sha256;
  }

  /** The next part, or `undefined` at the end of the body. */
  async next(): Promise<Buffer | undefined> {
    while (!this.#ended && this.#buffered() < this.#partSize) await this.#pull();
    if (this.#assembling !== undefined) return this.#takeAssembled();
    if (this.#pendingBytes === 0) return undefined;
    // Not assembled in pooled memory: a body given as bytes, a chunk that covers a whole part
    // (handed out without a copy), or a small body, whose few chunks are joined in a fresh buffer.
    const take = Math.min(this.#partSize, this.#pendingBytes);
    const chunks = this.#takePending(take);
    this.#assemble();
    const [only] = chunks;
    return chunks.length === 1 && only !== undefined ? only : Buffer.concat(chunks, take);
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
    // Never handed out, so nothing else can hold it: back to the pool.
    if (this.#assembling !== undefined) this.#pool?.release(this.#assembling);
    this.#assembling = undefined;
    this.#filled = 0;
    this.#source?.destroy();
  }

  #buffered(): number {
    return this.#filled + this.#pendingBytes;
  }

  /** The part being assembled, once full or at the end of the body; the next one starts empty. */
  #takeAssembled(): Buffer | undefined {
    const part = this.#assembling;
    if (part === undefined || this.#pool === undefined) return undefined;
    const filled = this.#filled;
    this.#assembling = undefined;
    this.#filled = 0;
    // A split chunk's rest belongs to the next part.
    this.#assemble();
    return filled === part.byteLength ? part : this.#pool.resize(part, filled);
  }

  /** The oldest pending chunks covering exactly `take` bytes (the last one split if needed). */
  #takePending(take: number): Buffer[] {
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
    this.#pendingBytes -= have;
    return chunks;
  }

  /**
   * Copies pending chunks into the pooled part (see {@link POOL_AFTER_BYTES}), starting one when a
   * streamed part has grown past the threshold. Not for a body given as bytes (no chunks to free)
   * nor for a part a single chunk already covers (handed out as it is, without a copy).
   */
  #assemble(): void {
    const pool = this.#pool;
    if (pool === undefined || this.#source === undefined) return;
    if (this.#assembling === undefined) {
      if (this.#pendingBytes < POOL_AFTER_BYTES || (this.#pending[0]?.byteLength ?? 0) >= this.#partSize) return;
      this.#assembling = pool.acquire(this.#partSize, this.#partSize);
    }
    const space = this.#partSize - this.#filled;
    if (space === 0 || this.#pendingBytes === 0) return;
    const chunks = this.#takePending(Math.min(space, this.#pendingBytes));
    this.#filled = copyInto(this.#assembling, chunks, this.#filled);
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
      this.#assemble();
    }
  }
}

/** Copies `chunks` one after another into `target` from `offset`; returns the offset after them. */
function copyInto(target: Buffer, chunks: readonly Buffer[], offset: number): number {
  let at = offset;
  for (const chunk of chunks) {
    target.set(chunk, at);
    at += chunk.byteLength;
  }
  return at;
}
