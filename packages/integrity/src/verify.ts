import type { TransformCallback, TransformOptions } from 'node:stream';
import { ChecksumMismatchError, InvalidDigestInputError } from './errors.js';
import { HashingStream, hashStream, normaliseSha256Hex, type DigestResult } from './sha256.js';

/** What a body must hash to. */
export interface ExpectedDigest {
  /** Lowercase or uppercase hex SHA-256. */
  readonly sha256: string;
  /** Exact length in bytes; when given, an over-long body fails as soon as it is too long. */
  readonly size?: number;
}

function normaliseExpected(expected: ExpectedDigest): { sha256: string; size: number | undefined } {
  const sha256 = normaliseSha256Hex(expected.sha256, 'expected sha256');
  const size = expected.size;
  if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) {
    throw new InvalidDigestInputError(`expected size must be a non-negative integer, got ${size}`);
  }
  return { sha256, size };
}

/**
 * Throws {@link ChecksumMismatchError} unless `actual` matches `expected`.
 * @param what names the body in the error message (e.g. `"models/a.bin from dc-west"`).
 */
export function assertDigest(actual: DigestResult, expected: ExpectedDigest, what = 'body'): void {
  const want = normaliseExpected(expected);
  if (actual.sha256 !== want.sha256 || (want.size !== undefined && actual.size !== want.size)) {
    throw new ChecksumMismatchError(
      { expectedSha256: want.sha256, expectedSize: want.size, actualSha256: actual.sha256, actualSize: actual.size },
      what,
    );
  }
}

/** Options for {@link VerifyingStream}. */
export interface VerifyingStreamOptions extends Omit<TransformOptions, 'transform' | 'flush' | 'objectMode' | 'decodeStrings'> {
  /** Names the body in error messages. Default `"body"`. */
  readonly what?: string;
}

/**
 * A pass-through stream that fails with {@link ChecksumMismatchError} unless the bytes that flowed
 * through it have the expected SHA-256 and size.
 *
 * The check runs in `_flush`, i.e. before the readable side emits `'end'`. That ordering is the
 * point: a reader such as a multipart upload only completes the object after `'end'`, so a
 * corrupt or truncated body makes it abort instead of committing bad bytes. An over-long body is
 * rejected as soon as it exceeds the expected size, without waiting for the rest.
 */
export class VerifyingStream extends HashingStream {
  readonly #expected: { sha256: string; size: number | undefined };
  readonly #what: string;

  constructor(expected: ExpectedDigest, options: VerifyingStreamOptions = {}) {
    const { what = 'body', ...streamOptions } = options;
    super(streamOptions);
    this.#expected = normaliseExpected(expected);
    this.#what = what;
  }

  override _transform(chunk: Buffer, encoding: BufferEncoding, callback: TransformCallback): void {
    const limit = this.#expected.size;
    if (limit !== undefined && this.size + chunk.length > limit) {
      callback(
        new ChecksumMismatchError(
          { expectedSha256: this.#expected.sha256, expectedSize: limit, actualSha256: undefined, actualSize: this.size + chunk.length },
          this.#what,
        ),
      );
      return;
    }
    super._transform(chunk, encoding, callback);
  }

  override _flush(callback: TransformCallback): void {
    try {
      assertDigest(this.completeDigest(), this.#expected, this.#what);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }
}

/** Hashes a whole source and throws {@link ChecksumMismatchError} unless it matches. */
export async function verifySource(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  expected: ExpectedDigest,
  what = 'body',
): Promise<DigestResult> {
  const want = normaliseExpected(expected);
  const actual = await hashStream(source);
  assertDigest(actual, want, what);
  return actual;
}
