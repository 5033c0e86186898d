import { isSha256Hex } from '@shardsync/integrity';
import { normalizeEtag } from './etag.js';
import { InvalidArgumentError, PreconditionFailedError } from './errors.js';
import type { ByteRange, ListOptions, ListUploadsOptions, WriteConditions } from './types.js';

/** User metadata key under which callers record the body's SHA-256; put() verifies it. */
export const SHA256_METADATA_KEY = 'shardsync-sha256';

/** S3 limits user metadata to 2 KB: the UTF-8 bytes of every key and value added up. */
const MAX_METADATA_BYTES = 2048;
const METADATA_KEY = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Throws unless `key` is a usable S3 key: 1 to 1024 UTF-8 bytes. */
export function validateKey(key: string, what = 'key'): void {
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes === 0 || bytes > 1024) throw new InvalidArgumentError(`${what} must be 1 to 1024 UTF-8 bytes, got ${bytes}: ${JSON.stringify(key.slice(0, 80))}`);
}

/**
 * Lower-cases metadata keys and strips an `x-amz-meta-` prefix, as S3 does on the wire, so what
 * put() is given equals what head() returns. Refuses what S3 would mangle or reject: keys that are
 * not HTTP tokens, non-ASCII values (S3 would RFC 2047-encode them), duplicates after lower-casing,
 * and more than 2 KB in total.
 */
export function normalizeMetadata(metadata: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  let bytes = 0;
  for (const [rawKey, value] of Object.entries(metadata ?? {})) {
    const key = rawKey.toLowerCase().replace(/^x-amz-meta-/, '');
    if (!METADATA_KEY.test(key)) throw new InvalidArgumentError(`metadata key ${JSON.stringify(rawKey)} is not a valid HTTP header name`);
    if (typeof value !== 'string' || !PRINTABLE_ASCII.test(value)) {
      throw new InvalidArgumentError(`metadata value of ${JSON.stringify(key)} must be printable ASCII; encode other text (e.g. base64 or percent-encoding) first`);
    }
    if (key in out && out[key] !== value) throw new InvalidArgumentError(`metadata key ${JSON.stringify(key)} is given twice with different values (keys are case-insensitive)`);
    out[key] = value;
    bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  if (bytes > MAX_METADATA_BYTES) throw new InvalidArgumentError(`user metadata is ${bytes} bytes; S3 allows at most ${MAX_METADATA_BYTES}`);
  return out;
}

/**
 * The SHA-256 a put() body must have: `expectedSha256`, or else the `shardsync-sha256` metadata.
 * Both given and different is a caller bug. Returns lower-case hex or `undefined`.
 */
export function resolveExpectedSha256(expectedSha256: string | undefined, metadata: Readonly<Record<string, string>>): string | undefined {
  const fromOption = expectedSha256?.toLowerCase();
  const fromMetadata = metadata[SHA256_METADATA_KEY]?.toLowerCase();
  for (const [what, value] of [['expectedSha256', fromOption], [`metadata ${SHA256_METADATA_KEY}`, fromMetadata]] as const) {
    if (value !== undefined && !isSha256Hex(value)) throw new InvalidArgumentError(`${what} must be 64 hexadecimal characters, got ${JSON.stringify(value)}`);
  }
  if (fromOption !== undefined && fromMetadata !== undefined && fromOption !== fromMetadata) {
    throw new InvalidArgumentError(`expectedSha256 ${fromOption} differs from metadata ${SHA256_METADATA_KEY} ${fromMetadata}; the object would carry a wrong checksum`);
  }
  return fromOption ?? fromMetadata;
}

/** Write conditions checked and brought to one form (quoted ETag). */
export interface NormalizedConditions {
  readonly ifNoneMatch: '*' | undefined;
  readonly ifMatch: string | undefined;
}

/** Throws on contradictory or malformed conditions; normalises the ETag. */
export function normalizeConditions(conditions: WriteConditions): NormalizedConditions {
  const { ifNoneMatch, ifMatch } = conditions;
  if (ifNoneMatch !== undefined && ifNoneMatch !== '*') throw new InvalidArgumentError(`ifNoneMatch only supports "*", got ${JSON.stringify(ifNoneMatch)}`);
  if (ifNoneMatch !== undefined && ifMatch !== undefined) throw new InvalidArgumentError('give ifNoneMatch or ifMatch, not both');
  if (ifMatch !== undefined && ifMatch.trim() === '') throw new InvalidArgumentError('ifMatch must be an ETag, got an empty string');
  return { ifNoneMatch, ifMatch: ifMatch === undefined ? undefined : normalizeEtag(ifMatch) };
}

/** True when a condition is set. */
export function hasConditions(c: NormalizedConditions): boolean {
  return c.ifNoneMatch !== undefined || c.ifMatch !== undefined;
}

/**
 * Checks write conditions against the current object (`undefined` when absent) and throws
 * {@link PreconditionFailedError} like a server would. Used by the emulation and the memory store.
 */
export function assertConditions(current: { readonly etag: string } | undefined, c: NormalizedConditions, what: string): void {
  if (c.ifNoneMatch === '*' && current !== undefined) {
    throw new PreconditionFailedError(`${what}: If-None-Match: * failed, the key already exists (ETag ${current.etag})`, { statusCode: 412 });
  }
  if (c.ifMatch !== undefined && (current === undefined || normalizeEtag(current.etag) !== c.ifMatch)) {
    const found = current === undefined ? 'the key does not exist' : `its ETag is ${current.etag}`;
    throw new PreconditionFailedError(`${what}: If-Match ${c.ifMatch} failed, ${found}`, { statusCode: 412 });
  }
}

/** Throws unless the range is well formed. Whether it fits the object is the server's answer (416). */
export function validateRange(range: ByteRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new InvalidArgumentError(`range must have integers 0 <= start <= end (inclusive), got ${JSON.stringify(range)}`);
  }
}

/** Checks a list() call's options; returns the page size to use. */
export function validateListOptions(options: ListOptions, defaultPageSize: number): number {
  const pageSize = validatePageSize(options.pageSize, defaultPageSize);
  const order = options.order ?? 'sorted';
  if (order !== 'sorted' && order !== 'any') throw new InvalidArgumentError(`order must be "sorted" or "any", got ${JSON.stringify(order)}`);
  if (order === 'any' && options.startAfter !== undefined) throw new InvalidArgumentError('startAfter needs a sorted listing; do not combine it with order "any"');
  return pageSize;
}

/** Checks a listUploads() call's options; returns the page size to use. */
export function validateListUploadsOptions(options: ListUploadsOptions, defaultPageSize: number): number {
  return validatePageSize(options.pageSize, defaultPageSize);
}

/** Throws unless the key and upload id can name an upload. */
export function validateUpload(key: string, uploadId: string): void {
  validateKey(key);
  if (typeof uploadId !== 'string' || uploadId === '') throw new InvalidArgumentError(`uploadId must be a non-empty string, got ${JSON.stringify(uploadId)}`);
}

function validatePageSize(given: number | undefined, defaultPageSize: number): number {
  const pageSize = given ?? defaultPageSize;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > 1000) throw new InvalidArgumentError(`pageSize must be an integer from 1 to 1000, got ${pageSize}`);
  return pageSize;
}
