import { randomUUID } from 'node:crypto';
import { MAX_KEY_BYTES, RESERVED_PREFIX } from './keys.js';
import { VERSION_METADATA_KEY } from './version.js';

/**
 * Where shardsync keeps things in a datacenter's bucket. The consumer writes this layout and
 * the reconciler reads it, so it lives next to the event contract.
 *
 * - `<dataset>/<key>`: the user's object, with metadata `shardsync-version`, `shardsync-sha256`
 *   and `shardsync-event-id`.
 * - `.shardsync/tombstones/<dataset>/<key>`: a small marker object carrying the version of a
 *   delete in its metadata, so a late, older put never resurrects the key and the reconciler can
 *   tell deleted from missing. Under the reserved prefix, users listing their dataset never see
 *   it. Its body is {@link tombstoneBody}: nothing reads it, it only makes each write's ETag unique.
 * - `.shardsync/staging/events/<eventId>`: bodies staged by producers, referenced by events (claim
 *   check); deleted by the reconciler's staging collection once past their retention.
 * - `.shardsync/producers/<producerId>/clock`: a producer's clock lease, the bound its versions'
 *   physical time stays below, so that after a restart it issues only higher versions. Kept in
 *   its origin datacenter only, never replicated, and outside every prefix the reconciler and the
 *   staging collection list, so neither compares nor deletes it.
 */
export const TOMBSTONE_PREFIX = `${RESERVED_PREFIX}tombstones/`;
export const STAGING_PREFIX = `${RESERVED_PREFIX}staging/`;
export const PRODUCERS_PREFIX = `${RESERVED_PREFIX}producers/`;

/** Object metadata keys shardsync writes (S3 user metadata, `x-amz-meta-*` on the wire). */
export const META = {
  version: VERSION_METADATA_KEY,
  sha256: 'shardsync-sha256',
  eventId: 'shardsync-event-id',
  deletedAtMs: 'shardsync-deleted-at-ms',
} as const;

/** The bucket key of a dataset's object. */
export function objectKeyOf(dataset: string, key: string): string {
  return `${dataset}/${key}`;
}

/** The bucket key of a dataset object's tombstone. */
export function tombstoneKeyOf(dataset: string, key: string): string {
  return `${TOMBSTONE_PREFIX}${dataset}/${key}`;
}

/** The bucket key of a producer's clock lease (see the producer's `ClockLease`). */
export function clockLeaseKeyOf(producerId: string): string {
  return `${PRODUCERS_PREFIX}${producerId}/clock`;
}

/** The prefix under which all of a dataset's objects live. */
export function datasetPrefix(dataset: string): string {
  return `${dataset}/`;
}

/**
 * The body of one tombstone write: the delete's event id (for people reading the bucket) and a
 * random write id. No two writes share a body, so no two share an ETag, and a delete with
 * `If-Match` on the ETag a listing showed removes that write of the tombstone and never one
 * written after the listing. The consumer's expiry relies on it: with equal (empty) bodies an
 * expired tombstone and a fresh one written over it look the same. Every writer of tombstones
 * (consumer, reconciler repair) must use it.
 */
export function tombstoneBody(eventId: string | undefined): Buffer {
  return Buffer.from(`${eventId ?? '-'} ${randomUUID()}\n`, 'utf8');
}

/** The prefix under which all of a dataset's tombstones live. */
export function tombstonePrefix(dataset: string): string {
  return `${TOMBSTONE_PREFIX}${dataset}/`;
}

/**
 * The longest key (UTF-8 bytes) a dataset's objects may have. The longest bucket key shardsync
 * writes for an object is its tombstone's, `.shardsync/tombstones/<dataset>/<key>`, and S3 refuses
 * keys over {@link MAX_KEY_BYTES}: a longer key could be written but never deleted there.
 */
export function maxKeyBytesIn(dataset: string): number {
  return MAX_KEY_BYTES - Buffer.byteLength(tombstonePrefix(dataset), 'utf8');
}
