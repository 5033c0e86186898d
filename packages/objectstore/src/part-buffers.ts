/**
 * Reusable memory for the parts a put() assembles, shared by every store of the process.
 *
 * Why: assembling a part (a single PUT body of up to 16 MiB, or a multipart part) from the
 * source's 16-64 KiB chunks needs one contiguous buffer. A fresh allocation for every part makes
 * the kernel fault in and later unmap megabytes per object, and makes V8 collect more often for
 * the external memory it sees come and go: in the bulk benchmark's profiles that copy into fresh
 * memory was 10-16% of a consumer's CPU. A part whose request succeeded gives its block back here
 * and the next part reuses it, already mapped.
 *
 * Only a part whose request succeeded is released: after a failure the HTTP stack may still hold
 * the bytes (a socket write in progress), so that block is left to the garbage collector.
 */
export class PartBufferPool {
  readonly #maxFreeBytes: number;
  /** Free blocks by capacity. */
  readonly #free = new Map<number, Buffer[]>();
  /** The block and the view handed out for every acquisition not yet released, by the block's memory. */
  readonly #inUse = new WeakMap<ArrayBufferLike, { block: Buffer; view: Buffer }>();
  #freeBytes = 0;

  /** @param maxFreeBytes most memory kept for reuse while no part uses it. */
  constructor(maxFreeBytes: number) {
    this.#maxFreeBytes = maxFreeBytes;
  }

  /** Bytes held for reuse right now. */
  get freeBytes(): number {
    return this.#freeBytes;
  }

  /** A buffer of exactly `size` bytes (contents undefined) in a block of `capacity` bytes, reused when one is free. */
  acquire(size: number, capacity: number): Buffer {
    if (!Number.isSafeInteger(size) || size < 0 || size > capacity) throw new RangeError(`a part of ${size} bytes does not fit a block of ${capacity}`);
    const reused = this.#free.get(capacity)?.pop();
    if (reused !== undefined) this.#freeBytes -= capacity;
    const block = reused ?? Buffer.allocUnsafeSlow(capacity);
    const view = block.subarray(0, size);
    this.#inUse.set(block.buffer, { block, view });
    return view;
  }

  /**
   * The first `size` bytes of a buffer from {@link acquire}, which stands for it from now on (to
   * release, or to resize again): a part that turned out shorter than the block it was assembled in.
   */
  resize(part: Buffer, size: number): Buffer {
    const held = this.#inUse.get(part.buffer);
    if (held === undefined || held.view !== part) throw new RangeError('resize() takes a buffer acquire() handed out and not yet released');
    if (!Number.isSafeInteger(size) || size < 0 || size > held.block.byteLength) throw new RangeError(`a part of ${size} bytes does not fit a block of ${held.block.byteLength}`);
    const view = held.block.subarray(0, size);
    this.#inUse.set(held.block.buffer, { block: held.block, view });
    return view;
  }

  /**
   * Gives a buffer from {@link acquire} back. Anything else is ignored, and so is a buffer released
   * before (even if its block was handed out again since: only the latest view of a block counts).
   */
  release(part: Buffer): void {
    const held = this.#inUse.get(part.buffer);
    if (held === undefined || held.view !== part) return;
    this.#inUse.delete(part.buffer);
    const { block } = held;
    if (this.#freeBytes + block.byteLength > this.#maxFreeBytes) return;
    let list = this.#free.get(block.byteLength);
    if (list === undefined) {
      list = [];
      this.#free.set(block.byteLength, list);
    }
    list.push(block);
    this.#freeBytes += block.byteLength;
  }
}

/**
 * The process's pool. 256 MiB kept for reuse at most: sixteen default-size (16 MiB) parts, what a
 * consumer applying 16 shards at once (its default concurrency) or a producer taking 16 uploads
 * has in flight. Blocks are only kept after they were in use together, so the pool never raises a
 * process's peak memory; it keeps an idle process at the peak it reached. A smaller cap sent most
 * parts of such a load to fresh memory: on this project's test machine writing into fresh memory
 * ran at 0.6 GiB/s against 39 GiB/s into reused memory (page faults), 15% of the bulk producer's CPU.
 */
export const sharedPartBuffers = new PartBufferPool(256 * 1024 * 1024);
