import { ProducerError } from '../errors.js';

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
  const out: Record<string, string> = {};
  if (value !== undefined) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(index, '"metadata" must be an object of strings');
    for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
      if (!METADATA_NAME.test(name)) throw invalid(index, `metadata name "${name}" must be lower-case letters, digits and - . _ ~ ! # $ % & ' * + ^ \` |`);
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

function parseItem(value: unknown, index: number): BatchItem {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(index, 'each item must be an object');
  const item = value as Record<string, unknown>;
  const dataset = requiredString(item, 'dataset', index);
  const key = requiredString(item, 'key', index);
  const idempotencyKey = optionalString(item, 'idempotencyKey', index);
  const operation = item['operation'];
  if (operation === 'delete') {
    for (const field of ['body', 'sha256', 'metadata', 'contentType']) {
      if (item[field] !== undefined) throw invalid(index, `a delete has no "${field}"`);
    }
    return { operation, dataset, key, idempotencyKey };
  }
  if (operation !== 'put') throw invalid(index, '"operation" must be "put" or "delete"');
  const encoded = requiredString(item, 'body', index);
  if (!isBase64(encoded)) throw invalid(index, '"body" must be the object\'s bytes in base64 (RFC 4648, padded)');
  return {
    operation,
    dataset,
    key,
    body: Buffer.from(encoded, 'base64'),
    sha256: optionalString(item, 'sha256', index),
    metadata: parseMetadata(item['metadata'], optionalString(item, 'contentType', index), index),
    idempotencyKey,
  };
}

/**
 * The body of `POST /v1/batch`, `{"items": [...]}`, checked whole before anything is emitted: a
 * malformed item refuses the request (400 naming the item), so a client bug never half-applies.
 */
export function parseBatchRequest(body: unknown): BatchItem[] {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { items?: unknown }).items)) {
    throw new ProducerError('SHARDSYNC_INVALID_REQUEST', 'the body must be {"items": [...]}');
  }
  const items = (body as { items: unknown[] }).items;
  if (items.length === 0) throw new ProducerError('SHARDSYNC_INVALID_REQUEST', '"items" is empty');
  if (items.length > MAX_BATCH_ITEMS) throw new ProducerError('SHARDSYNC_INVALID_REQUEST', `a batch carries at most ${MAX_BATCH_ITEMS} items, got ${items.length}`);
  return items.map(parseItem);
}
