import { randomUUID } from 'node:crypto';
import { invalidArgument } from './errors.js';
import type { CallOptions, PutOptions } from './types.js';

const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
// The producer's rules for user metadata (packages/events `userMetadataProblems`; the client's
// contract test checks the two agree), so a name it would refuse fails here, before anything is
// sent: lower-case letters, digits and "-", at most 128, not "shardsync-*", and names and values
// (the content type's included) at most 1536 bytes in all, which leaves S3's 2 KB for shardsync's own.
const METADATA_NAME = /^[a-z0-9][a-z0-9-]{0,127}$/;
const RESERVED_METADATA_PREFIX = 'shardsync-';
const MAX_METADATA_BYTES = 1536;
// Printable ASCII; what node:http sends unchanged and the producer reads back unchanged.
const HEADER_VALUE = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
// Where an update goes, by the producer's rules, copied because the client depends on no other
// package at run time (the contract test checks the copies agree). Dataset names: as the topology
// declares them (packages/config `topology-schema.ts`, the same rule as packages/events
// `DATASET_NAME_PATTERN`), so any other name is one the producer cannot know. Keys: at most S3's
// 1024 UTF-8 bytes (packages/events `keys.ts`, `MAX_KEY_BYTES`); the key's other rules stay the
// producer's to judge. Checked before anything is sent because a batched call shares its request:
// one huge name would push that request over the producer's body limit and fail every call in it.
const DATASET_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const MAX_KEY_BYTES = 1024;
/** Characters of a refused name quoted in its error: enough to recognise it, never megabytes of it. */
const SHOWN_CHARS = 80;

function encodeSegment(segment: string, what: string): string {
  try {
    return encodeURIComponent(segment);
  } catch (cause) {
    throw invalidArgument(`${what} contains a lone UTF-16 surrogate and cannot be sent as UTF-8 (${String(cause)})`);
  }
}

function shown(name: string): string {
  return name.length > SHOWN_CHARS ? `${JSON.stringify(name.slice(0, SHOWN_CHARS))}… (${name.length} characters)` : JSON.stringify(name);
}

/**
 * `/v1/objects/<dataset>/<key>` with every key segment percent-encoded and its `/` kept, so
 * the producer sees the key exactly as given. Refuses (SHARDSYNC_CLIENT_INVALID_ARGUMENT) a
 * dataset name no topology can hold and a key over 1024 UTF-8 bytes; the key's other rules
 * (no `..`, NFC, ...) are the producer's to judge: it answers SHARDSYNC_INVALID_KEY with the reason.
 */
export function objectPath(dataset: string, key: string): string {
  if (typeof dataset !== 'string' || dataset === '') throw invalidArgument('dataset must be a non-empty string');
  if (!DATASET_NAME.test(dataset)) {
    throw invalidArgument(`dataset ${shown(dataset)} is not a dataset name: names are 1 to 63 characters of a-z, 0-9, ".", "_" and "-", starting with a letter or digit, as in the producer's topology`);
  }
  if (typeof key !== 'string' || key === '') throw invalidArgument('key must be a non-empty string');
  const keyBytes = Buffer.byteLength(key, 'utf8');
  if (keyBytes > MAX_KEY_BYTES) throw invalidArgument(`key ${shown(key)} is ${keyBytes} UTF-8 bytes; the limit is ${MAX_KEY_BYTES}`);
  const encodedKey = key
    .split('/')
    .map((s) => encodeSegment(s, `key "${key}"`))
    .join('/');
  return `/v1/objects/${encodeSegment(dataset, `dataset "${dataset}"`)}/${encodedKey}`;
}

/** The caller's Idempotency-Key, checked, or a fresh one: generated once per call, reused by its retries. */
export function idempotencyKeyFor(options: CallOptions): string {
  const key = options.idempotencyKey;
  if (key === undefined) return randomUUID();
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !HEADER_VALUE.test(key)) {
    throw invalidArgument(`idempotencyKey must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters without leading or trailing spaces`);
  }
  return key;
}

/** A put's description of its body, checked: what travels as headers, or as fields of a batch item. */
export interface PutFields {
  /** Lower-case hex. */
  sha256?: string | undefined;
  contentType?: string | undefined;
  metadata: Record<string, string>;
}

/** Checks a put's digest, content type and user metadata; throws SHARDSYNC_CLIENT_INVALID_ARGUMENT naming what is wrong. */
export function putFields(options: PutOptions): PutFields {
  const fields: PutFields = { metadata: {} };
  if (options.sha256 !== undefined) {
    if (!SHA256_HEX.test(options.sha256)) throw invalidArgument(`sha256 must be 64 hexadecimal characters, got "${options.sha256}"`);
    fields.sha256 = options.sha256.toLowerCase();
  }
  if (options.contentType !== undefined) {
    if (!HEADER_VALUE.test(options.contentType)) throw invalidArgument(`contentType "${options.contentType}" must be printable ASCII`);
    fields.contentType = options.contentType;
  }
  let bytes = fields.contentType === undefined ? 0 : 'content-type'.length + fields.contentType.length;
  for (const [name, value] of Object.entries(options.metadata ?? {})) {
    // The producer stores a contentType in place of a "content-type" metadata entry: count it once.
    const replaced = name === 'content-type' && fields.contentType !== undefined;
    if (!METADATA_NAME.test(name)) {
      throw invalidArgument(`metadata name "${name}" must be lower-case letters, digits and "-", starting with a letter or digit, at most 128 characters`);
    }
    if (name.startsWith(RESERVED_METADATA_PREFIX)) throw invalidArgument(`metadata name "${name}" is reserved: "shardsync-*" names are written by shardsync itself`);
    if (typeof value !== 'string' || (value !== '' && !HEADER_VALUE.test(value))) {
      throw invalidArgument(`metadata "${name}" must be printable ASCII without leading or trailing spaces; encode other values (e.g. base64 or percent-encoding) yourself`);
    }
    if (!replaced) bytes += name.length + value.length;
    fields.metadata[name] = value;
  }
  if (bytes > MAX_METADATA_BYTES) throw invalidArgument(`metadata (content type included) is ${bytes} bytes; the limit is ${MAX_METADATA_BYTES}`);
  return fields;
}

/** The request headers that describe a put's body: digest, content type, user metadata. */
export function putHeaders(fields: PutFields): Record<string, string> {
  const headers: Record<string, string> = {};
  if (fields.sha256 !== undefined) headers['x-shardsync-sha256'] = fields.sha256;
  if (fields.contentType !== undefined) headers['content-type'] = fields.contentType;
  for (const [name, value] of Object.entries(fields.metadata)) headers[`x-shardsync-meta-${name}`] = value;
  return headers;
}
