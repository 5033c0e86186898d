import { sha256Hex } from '@shardsync/integrity';
import type { Announcement } from './announcement.js';
import type { RequestIdentity } from './idempotency.js';

/** User metadata with its names in order: the same entries read from headers or JSON in any order are one request. */
function sortedMetadata(metadata: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * A put of one Idempotency-Key: its target, declared digest and metadata (content type included),
 * which every datacenter stores with the object, so a retry with other metadata is another update.
 * Not its length: a body sent chunked once and with Content-Length once is the same body, which
 * the retry's body check (length first, then SHA-256) tells. The fingerprint keeps the form
 * producers before `request` compare (with the length).
 */
export function putIdentity(dataset: string, key: string, declaredSha256: string | undefined, contentLength: number | undefined, metadata: Record<string, string>): RequestIdentity {
  return {
    fingerprint: `PUT ${dataset}/${key} ${declaredSha256 ?? ''} ${contentLength ?? ''}`,
    // No digest for no metadata, as nearly every put on the ingest path: it costs CPU per update.
    request: JSON.stringify(['PUT', dataset, key, declaredSha256 ?? null, Object.keys(metadata).length === 0 ? null : sha256Hex(JSON.stringify(sortedMetadata(metadata)))]),
  };
}

/**
 * An announcement of one Idempotency-Key: the whole of it, with its metadata in name order, since
 * JSON object order means nothing. The fingerprint keeps the form producers before `request` compare.
 */
export function announceIdentity(a: Announcement): RequestIdentity {
  return {
    fingerprint: JSON.stringify(a),
    request: JSON.stringify(a.operation === 'put' ? { ...a, metadata: sortedMetadata(a.metadata) } : a),
  };
}
