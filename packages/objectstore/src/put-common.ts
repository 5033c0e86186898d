import { ChecksumMismatchError, IntegrityError } from '@shardsync/integrity';
import { classifyS3Error } from './classify.js';
import { InvalidArgumentError, ObjectStoreError, SourceStreamError } from './errors.js';
import { normalizeEtag } from './etag.js';
import type { CompiledObjectStoreOptions } from './options.js';
import type { PutOptions } from './types.js';
import { normalizeConditions, normalizeMetadata, resolveExpectedSha256, validateKey, type NormalizedConditions } from './validate.js';

/** A put()'s arguments, validated; shared by the S3 and the in-memory store so both refuse the same calls. */
export interface PreparedPut {
  readonly metadata: Record<string, string>;
  readonly contentType: string | undefined;
  readonly expectedSha256: string | undefined;
  readonly conditions: NormalizedConditions;
  readonly size: number | undefined;
  /** The body's MD5 as the caller vouched for it (`sourceEtag`), when that ETag is a single-part one. */
  readonly knownMd5: Buffer | undefined;
}

/** Validates put() arguments; throws `InvalidArgumentError` before any byte is read. */
export function preparePut(key: string, options: PutOptions, compiled: CompiledObjectStoreOptions): PreparedPut {
  validateKey(key);
  const metadata = normalizeMetadata(options.metadata);
  const { size } = options;
  if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) throw new InvalidArgumentError(`size must be a non-negative integer, got ${size}`);
  if (size !== undefined && size > compiled.maxObjectBytes) {
    throw new InvalidArgumentError(`an object of ${size} bytes needs more than 10000 parts of ${compiled.partSizeBytes} bytes; raise partSizeBytes`);
  }
  return {
    metadata,
    contentType: options.contentType,
    expectedSha256: resolveExpectedSha256(options.expectedSha256, metadata),
    conditions: normalizeConditions(options),
    size,
    knownMd5: options.sourceEtag === undefined ? undefined : md5OfSinglePartEtag(options.sourceEtag),
  };
}

/** The MD5 a single-part ETag (`"<32 hex>"`) stands for; `undefined` for a multipart or foreign one. */
export function md5OfSinglePartEtag(etag: string): Buffer | undefined {
  const hex = /^"([0-9a-f]{32})"$/i.exec(normalizeEtag(etag))?.[1];
  return hex === undefined ? undefined : Buffer.from(hex, 'hex');
}

/** Throws `ChecksumMismatchError` (from `@shardsync/integrity`) when the body is not what was expected. */
export function assertSha256(key: string, expected: string | undefined, actual: string, size: number): void {
  if (expected === undefined || expected === actual) return;
  throw new ChecksumMismatchError(
    { expectedSha256: expected, expectedSize: undefined, actualSha256: actual, actualSize: size },
    `body for key ${JSON.stringify(key)}`,
  );
}

/**
 * What a failed put() throws: our own errors as they are; anything else came from reading the
 * caller's body, and becomes a `SourceStreamError` (retriable when the source failed on the network).
 */
export function putFailure(err: unknown, key: string): Error {
  if (err instanceof ObjectStoreError || err instanceof IntegrityError) return err;
  const retriable = classifyS3Error(err).retriable;
  const message = err instanceof Error ? err.message : String(err);
  return new SourceStreamError(`reading the body for key ${JSON.stringify(key)} failed: ${message}; nothing was stored`, { retriable, cause: err });
}
