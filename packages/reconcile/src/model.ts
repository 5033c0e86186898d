import type { Version } from '@shardsync/events';
import type { RequestCounts } from './counting.js';
import type { FailureInfo } from './errors.js';

/**
 * The data model shared by the comparison, the decision and the repair. Everything that travels
 * between processes (job data, agent answers, reports) is plain JSON: times are epoch
 * milliseconds, maps are records. Keys are the user's keys, relative to the dataset (the bucket
 * key is `<dataset>/<key>`, its tombstone `.shardsync/tombstones/<dataset>/<key>`).
 */

/** What a GET told about an object during a deep scan: enough to decide without a HEAD. */
export interface ObservedInfo {
  readonly etag: string;
  readonly size: number;
  readonly lastModifiedMs: number;
  readonly metadata: Readonly<Record<string, string>>;
  readonly contentType?: string | undefined;
}

/** Result of re-reading one object's bytes in deep mode. */
export interface DeepCheck {
  /**
   * `ok`: the bytes hash to the object's own `shardsync-sha256`; `corrupt`: they do not (or the
   * size differs); `unverifiable`: the object has no recorded SHA-256 (not written by shardsync).
   */
  readonly integrity: 'ok' | 'corrupt' | 'unverifiable';
  readonly actualSha256: string;
  readonly info: ObservedInfo;
}

/** What one datacenter's listing says about one key. Absent from a listing map = nothing listed. */
export interface ListedState {
  /**
   * The key's entry in the datacenter's digest tree; undefined when the key is not in the tree
   * (only an expired tombstone is listed). Equal fingerprints mean "no repair needed".
   */
  readonly fingerprint?: string | undefined;
  readonly object?: { readonly etag: string; readonly size: number; readonly lastModifiedMs: number; readonly deep?: DeepCheck | undefined } | undefined;
  readonly tombstone?: { readonly lastModifiedMs: number } | undefined;
}

/** A key whose listings differ between datacenters: the unit the drill-down and the repair work on. */
export interface KeyObservation {
  readonly key: string;
  /** Leaf bucket of the digest tree the key falls into. */
  readonly bucket: number;
  /** Per datacenter, what its listing held; a datacenter missing here listed nothing for the key. */
  readonly listed: Readonly<Record<string, ListedState>>;
}

/** One datacenter's object under a key, as read (HEAD, or GET in deep mode). */
export interface ObjectCopy {
  readonly etag: string;
  readonly size: number;
  readonly lastModifiedMs: number;
  /** Undefined for an object without (valid) shardsync metadata: written by hand, or by another tool. */
  readonly version: Version | undefined;
  readonly sha256: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  readonly contentType: string | undefined;
  /** `corrupt` only when its bytes were read and do not match its own `shardsync-sha256`. */
  readonly integrity: 'ok' | 'corrupt' | 'unchecked';
  /**
   * Not read just now: taken from another datacenter's copy with the same ETag (one HEAD per
   * ETag), or from a deep scan's GET that may be long past. The same bytes may carry another
   * version (a key deleted and put again with them, a content reverted), so a repair confirms
   * such a copy before it acts on it.
   */
  readonly inferred?: true | undefined;
}

/** One datacenter's tombstone under a key. */
export interface TombstoneCopy {
  /** Undefined when the tombstone's metadata is malformed; such a tombstone decides nothing. */
  readonly version: Version | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  /** When the delete happened (`shardsync-deleted-at-ms`, else the tombstone's Last-Modified). */
  readonly deletedAtMs: number;
}

/** Everything one datacenter holds for a key. */
export interface CopyState {
  readonly object?: ObjectCopy | undefined;
  readonly tombstone?: TombstoneCopy | undefined;
}

/**
 * How one datacenter's copy of a key compares with the winning state.
 * - `equal`: holds the winner (or nothing, when nothing exists anywhere).
 * - `missing`: holds nothing while the winner is a put, or lacks the tombstone of a delete that is
 *   still within its grace period.
 * - `stale`: holds an older version (put or delete), an object overwritten by hand without
 *   metadata, or a leftover tombstone next to the winning object.
 * - `corrupt`: holds the winning version, but its bytes do not match its own SHA-256.
 * - `shouldBeDeleted`: holds an object although a newer delete (tombstone) won.
 * - `unmanaged`: holds an object without shardsync metadata and no version of the key is known anywhere.
 */
export type CopyStatus = 'equal' | 'missing' | 'stale' | 'corrupt' | 'shouldBeDeleted' | 'unmanaged';

/** What a repair does in one datacenter. */
export type RepairAction =
  /** Copy the winning object from a healthy datacenter; then delete an outranked tombstone if there is one. */
  | { readonly type: 'copy'; readonly removeTombstone: boolean }
  /** Write the winning tombstone (unless it expired) and/or delete the object, tombstone first. */
  | { readonly type: 'delete'; readonly writeTombstone: boolean; readonly deleteObject: boolean }
  /** Delete a tombstone that the winning object outranks. */
  | { readonly type: 'remove-tombstone' }
  /** Delete an unmanaged object (only with the `remove` policy). */
  | { readonly type: 'remove-unmanaged' }
  /** Give an unmanaged object a version in place (only with the `adopt` policy); it then replicates. */
  | { readonly type: 'adopt' };

/**
 * What happened to a copy that needed a repair.
 * - `repaired`: written. `planned`: dry run, nothing written. `skipped`: not a target datacenter,
 *   or an unmanaged object under the `report` policy. `superseded`: it became equal without us
 *   (a consumer applied the winner meanwhile). `failed`: see the failure.
 */
export type RepairResult = 'repaired' | 'planned' | 'skipped' | 'superseded' | 'failed';

/** The outcome for one datacenter's copy of a divergent key. */
export interface CopyOutcome {
  readonly status: CopyStatus;
  readonly action?: RepairAction['type'] | undefined;
  readonly result?: RepairResult | undefined;
  readonly failure?: FailureInfo | undefined;
}

/** The winning state of a key, as reports show it. */
export interface WinnerSummary {
  readonly kind: 'put' | 'delete';
  /** `formatVersion` string. */
  readonly version: string;
  readonly sha256?: string | undefined;
  readonly size?: number | undefined;
}

/** Everything a pass learned and did about one divergent key. */
export interface KeyOutcome {
  readonly key: string;
  readonly winner?: WinnerSummary | undefined;
  /** One entry per participating datacenter. */
  readonly copies: Readonly<Record<string, CopyOutcome>>;
  /** Object bytes written by repairs of this key (copies and adoptions). */
  readonly bytesMoved: number;
  /** Requests to the stores for this key, by operation. */
  readonly requests: Readonly<RequestCounts>;
}
