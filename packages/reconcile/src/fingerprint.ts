import { META } from '@shardsync/events';
import { comparableEtag } from '@shardsync/objectstore';
import type { ListedState } from './model.js';

/**
 * The digest-tree fingerprint of what one datacenter lists under a key. Equal fingerprints must
 * mean "no repair needed", so it holds exactly what a listing can tell without reading metadata
 * (an object next to a tombstone always needs one, however equal: the scan flags such keys):
 *
 * - `o<etag>` for an object. Every datacenter writes a body the same way, so equal bytes have
 *   equal ETags everywhere (see `expectedEtag`), once spelled alike (`comparableEtag`: servers
 *   differ in the case of the hex). Two versions with identical bytes therefore look
 *   equal: harmless, since the bytes are what a reader gets, and any later update of the key that
 *   only one side applied makes the listings differ again.
 * - In deep mode the bytes were read anyway, so the fingerprint adds the version (`;v...`) and a
 *   `;corrupt` marker: a copy that rotted on disk keeps its ETag, and only this makes it differ.
 * - `t` for a tombstone still within its grace period, whatever its ETag (every tombstone write
 *   has a body of its own, see `tombstoneBody`): two deletes of different versions are both
 *   "deleted", which is equal for readers. Expired
 *   tombstones are left out, because consumers remove them at different times, and comparing them
 *   would drill into the same keys on every pass for nothing.
 *
 * Returns undefined when nothing remains (only an expired tombstone): the key is not in the tree.
 */
export function fingerprintOf(state: Omit<ListedState, 'fingerprint'>, nowMs: number, tombstoneGraceMs: number): string | undefined {
  const parts: string[] = [];
  const object = state.object;
  if (object !== undefined) {
    let part = `o${comparableEtag(object.etag)}`;
    if (object.deep !== undefined) {
      part += `;v${object.deep.info.metadata[META.version] ?? '-'}`;
      if (object.deep.integrity === 'corrupt') part += ';corrupt';
    }
    parts.push(part);
  }
  if (state.tombstone !== undefined && !isExpired(state.tombstone.lastModifiedMs, nowMs, tombstoneGraceMs)) parts.push('t');
  // Newlines and NULs cannot occur: ETags are quoted hex and versions are printable ASCII.
  return parts.length === 0 ? undefined : parts.join('+');
}

/** Whether a tombstone written (or a delete done) at `atMs` is past the grace period at `nowMs`. */
export function isExpired(atMs: number, nowMs: number, tombstoneGraceMs: number): boolean {
  return nowMs - atMs > tombstoneGraceMs;
}
