import { BatchFrameError, decodeBatchFrame } from '@shardsync/batch-wire';
import { ProducerError } from '../errors.js';
import { metadataRecord } from './metadata.js';

/** Most items one `POST /v1/batch` may carry. */
export const MAX_BATCH_ITEMS = 1000;

/** One update of a batch, checked for shape; its dataset, key and digest are the ingest's to judge. */
export type BatchItem =
  | {
      operation: 'put';
      dataset: string;
      key: string;
      body: Buffer;
      sha256?: string | undefined;
      metadata: Record<string, string>;
      idempotencyKey?: string | undefined;
    }
  | { operation: 'delete'; dataset: string; key: string; idempotencyKey?: string | undefined };

// The same metadata a PUT can carry in x-shardsync-meta-<name> headers: the names and values
// end up as S3 user metadata, i.e. HTTP headers again, in every datacenter.
const METADATA_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
// Printable ASCII without leading or trailing spaces (HTTP would trim them): what a header carries unchanged.
const METADATA_VALUE = /^(?:[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)?$/;
// Base64 (RFC 4648 §4) with padding: Buffer.from would silently skip anything else. A plain
// character class plus a length check, not a grouped pattern: V8 runs out of regex stack on a
// repeated group over strings of a few MiB.
const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;

function isBase64(s: string): boolean {
  return s.length % 4 === 0 && BASE64_CHARS.test(s);
}

function invalid(index: number, message: string): ProducerError {
  return new ProducerError('SHARDSYNC_INVALID_REQUEST', `items[${index}]: ${message}`);
}

function optionalString(item: Record<string, unknown>, field: string, index: number): string | undefined {
  const value = item[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(index, `"${field}" must be a string`);
  return value;
}

function requiredString(item: Record<string, unknown>, field: string, index: number): string {
  const value = optionalString(item, field, index);
  if (value === undefined) throw invalid(index, `"${field}" is required`);
  return value;
}

function parseMetadata(value: unknown, contentType: string | undefined, index: number): Record<string, string> {
  const out = metadataRecord();
  if (value !== undefined) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(index, '"metadata" must be an object of strings');
    for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
      // Names that can at least travel as a header name pass here; the item's own validation then
      // applies the event's rule (lower-case letters, digits and "-"), refusing that item alone.
      if (!METADATA_NAME.test(name)) throw invalid(index, `metadata name "${name}" must be lower-case letters, digits and "-"`);
      if (typeof v !== 'string' || !METADATA_VALUE.test(v)) throw invalid(index, `metadata "${name}" must be a string of printable ASCII without leading or trailing spaces`);
      out[name] = v;
    }
  }
  if (contentType !== undefined) {
    if (!METADATA_VALUE.test(contentType)) throw invalid(index, '"contentType" must be printable ASCII');
    out['content-type'] = contentType;
  }
  return out;
}

/** Where the items' bodies come from: base64 in each put's "body" (JSON form), or the frame's bytes (binary form). */
interface BodyReader {
  /** The body of put `index`, checked for form. */
  take(item: Record<string, unknown>, index: number): Buffer;
  /** Fields a put must not have in this form, with why. */
  readonly foreign: { field: string; why: string };
}

const base64Bodies: BodyReader = {
  take(item, index) {
    const encoded = requiredString(item, 'body', index);
    if (!isBase64(encoded)) throw invalid(index, '"body" must be the object\'s bytes in base64 (RFC 4648, padded)');
    return Buffer.from(encoded, 'base64');
  },
  foreign: { field: 'bodyLength', why: 'belongs to the binary form; a JSON batch carries the bytes in "body"' },
};

/** The bodies of a binary batch, handed out in item order: each put owns the next `bodyLength` bytes. */
class FrameBodies implements BodyReader {
  readonly foreign = { field: 'body', why: 'belongs to the JSON form; in a binary batch the bytes follow the description, sized by "bodyLength"' };
  readonly #bytes: Buffer;
  #at = 0;

  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  take(item: Record<string, unknown>, index: number): Buffer {
    const length = item['bodyLength'];
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) throw invalid(index, '"bodyLength" must be the body\'s size in bytes (a whole number >= 0)');
    const left = this.#bytes.length - this.#at;
    if (length > left) throw invalid(index, `"bodyLength" is ${length} but only ${left} body bytes are left in the request`);
    const body = this.#bytes.subarray(this.#at, this.#at + length);
    this.#at += length;
    return body;
  }

  /** Every byte must belong to a put: a surplus means the client and this parser disagree on the layout. */
  finish(): void {
    const left = this.#bytes.length - this.#at;
    if (left > 0) throw new ProducerError('SHARDSYNC_INVALID_REQUEST', `${left} bytes follow the last body; the items' "bodyLength"s must add up to the bytes after the description`);
  }
}

function parseItem(value: unknown, index: number, bodies: BodyReader): BatchItem {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(index, 'each item must be an object');
  const item = value as Record<string, unknown>;
  const dataset = requiredString(item, 'dataset', index);
  const key = requiredString(item, 'key', index);
  const idempotencyKey = optionalString(item, 'idempotencyKey', index);
  const operation = item['operation'];
  if (operation === 'delete') {
    for (const field of ['body', 'bodyLength', 'sha256', 'metadata', 'contentType']) {
      if (item[field] !== undefined) throw invalid(index, `a delete has no "${field}"`);
    }
    return { operation, dataset, key, idempotencyKey };
  }
  if (operation !== 'put') throw invalid(index, '"operation" must be "put" or "delete"');
  if (item[bodies.foreign.field] !== undefined) throw invalid(index, `"${bodies.foreign.field}" ${bodies.foreign.why}`);
  return {
    operation,
    dataset,
    key,
    body: bodies.take(item, index),
    sha256: optionalString(item, 'sha256', index),
    metadata: parseMetadata(item['metadata'], optionalString(item, 'contentType', index), index),
    idempotencyKey,
  };
}

function parseItems(description: unknown, bodies: BodyReader): BatchItem[] {
  if (typeof description !== 'object' || description === null || !Array.isArray((description as { items?: unknown }).items)) {
    throw new ProducerError('SHARDSYNC_INVALID_REQUEST', 'the body must be {"items": [...]}');
  }
  const items = (description as { items: unknown[] }).items;
  if (items.length === 0) throw new ProducerError('SHARDSYNC_INVALID_REQUEST', '"items" is empty');
  if (items.length > MAX_BATCH_ITEMS) throw new ProducerError('SHARDSYNC_INVALID_REQUEST', `a batch carries at most ${MAX_BATCH_ITEMS} items, got ${items.length}`);
  return items.map((item, index) => parseItem(item, index, bodies));
}

/**
 * The body of `POST /v1/batch` in its JSON form, `{"items": [...]}` with base64 bodies, checked
 * whole before anything is emitted: a malformed item refuses the request (400 naming the item),
 * so a client bug never half-applies.
 */
export function parseBatchRequest(body: unknown): BatchItem[] {
  return parseItems(body, base64Bodies);
}

/**
 * The same request in its binary form (`@shardsync/batch-wire`): the description is the JSON
 * form with each put's "body" replaced by its "bodyLength", and the bodies follow it as raw
 * bytes in item order. Checked as whole as the JSON form.
 */
export function parseBatchFrame(frame: Buffer): BatchItem[] {
  let decoded;
  try {
    decoded = decodeBatchFrame(frame);
  } catch (err) {
    if (err instanceof BatchFrameError) throw new ProducerError('SHARDSYNC_INVALID_REQUEST', err.message, { cause: err });
    throw err;
  }
  const bodies = new FrameBodies(decoded.bodies);
  const items = parseItems(decoded.description, bodies);
  bodies.finish();
  return items;
}
