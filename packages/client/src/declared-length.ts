import { Transform, type TransformCallback } from 'node:stream';
import { ShardsyncClientError } from './errors.js';

/**
 * Passes a streamed body on while checking it against the length its Content-Length announces,
 * holding its last byte back until the stream has ended. A server takes a request as complete once
 * Content-Length bytes have arrived: a longer stream must fail before its last announced byte leaves
 * (the producer would otherwise accept the truncated body, and the bytes after it would reach the
 * connection as garbage), and a shorter one must fail when it ends, not leave the server waiting
 * for bytes that never come. Either way the request is destroyed with the body incomplete, so the
 * producer emits nothing; the error is the caller's (not retried).
 */
export class DeclaredLengthGuard extends Transform {
  readonly #length: number;
  readonly #target: string;
  #seen = 0;
  #held: Buffer | undefined;

  constructor(length: number, target: string) {
    super();
    this.#length = length;
    this.#target = target;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    // An object-mode source (Readable.from of a generator) can hand over empty chunks; one after
    // the last byte must not replace the byte held back, or the request never completes.
    if (chunk.length === 0) {
      done();
      return;
    }
    this.#seen += chunk.length;
    if (this.#seen > this.#length) {
      done(this.#mismatch(`is longer than its contentLength of ${this.#length} bytes`));
      return;
    }
    if (this.#seen < this.#length) {
      done(null, chunk);
      return;
    }
    if (chunk.length > 1) this.push(chunk.subarray(0, chunk.length - 1));
    this.#held = chunk.subarray(chunk.length - 1);
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.#seen < this.#length) {
      done(this.#mismatch(`ended after ${this.#seen} bytes, short of its contentLength of ${this.#length}`));
      return;
    }
    done(null, this.#held);
  }

  #mismatch(what: string): ShardsyncClientError {
    return new ShardsyncClientError('SHARDSYNC_CLIENT_INVALID_ARGUMENT', `the body stream ${what} (${this.#target}); nothing was accepted`, { retriable: false });
  }
}
