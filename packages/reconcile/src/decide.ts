import { compareVersions, pickWinner, validateObjectKey, versionsEqual, type Version, type VersionedState } from '@shardsync/events';
import { comparableEtag } from '@shardsync/objectstore';
import { isExpired } from './fingerprint.js';
import type { CopyState, CopyStatus, RepairAction } from './model.js';
import type { UnmanagedPolicy } from './options.js';

/** Options of {@link decideKey}. */
export interface DecideOptions {
  readonly unmanaged: UnmanagedPolicy;
  /**
   * The key (relative to the dataset), when known: an unmanaged object whose key the producer
   * refuses (`validateObjectKey`: under the reserved prefix, `..` segments, ...) is never adopted.
   */
  readonly key?: string | undefined;
  readonly nowMs: number;
  readonly tombstoneGraceMs: number;
}

/** The state every datacenter should converge to. */
export type Winner =
  | {
      readonly kind: 'put';
      readonly version: Version;
      readonly sha256: string | undefined;
      readonly size: number;
      /** Datacenters holding the winning version with bytes not known to be corrupt: the repair sources. */
      readonly sources: readonly string[];
    }
  | {
      readonly kind: 'delete';
      readonly version: Version;
      /** The winning tombstone's metadata, written as is to datacenters that lack it. */
      readonly metadata: Readonly<Record<string, string>>;
      readonly deletedAtMs: number;
      /** Past the tombstone grace period: still decides, but is no longer copied anywhere. */
      readonly expired: boolean;
    };

/** What one datacenter's copy is and what would fix it. */
export interface CopyDecision {
  readonly status: CopyStatus;
  /** Undefined when nothing is to be done (equal, or unmanaged under the `report` policy). */
  readonly action?: RepairAction | undefined;
  /** Why a needed repair cannot be planned; reported as a failure. */
  readonly blocked?: { readonly code: string; readonly message: string } | undefined;
}

/** Result of {@link decideKey}. */
export interface KeyDecision {
  readonly winner: Winner | undefined;
  readonly copies: ReadonlyMap<string, CopyDecision>;
}

interface Candidate extends VersionedState {
  readonly datacenter: string;
}

/**
 * Decides a key from every datacenter's state with the one conflict rule the consumer uses
 * (`pickWinner`: the highest version wins, tombstones included), and classifies each copy.
 *
 * - Corrupt copies still count for the winner's version (they prove it existed) but are never
 *   sources, so a rotten copy can never spread, and an older healthy version is never restored
 *   over a newer one.
 * - An object without shardsync metadata loses to any versioned state (as in the consumer), so a
 *   versioned object overwritten by hand is repaired from the winner. Only when no version of the
 *   key exists anywhere is it `unmanaged`, which is reported and touched only under an explicit
 *   `adopt` or `remove` policy.
 *
 * Pure: no I/O, so every rule is unit-tested on its own.
 */
export function decideKey(copies: ReadonlyMap<string, CopyState>, options: DecideOptions): KeyDecision {
  const candidates: Candidate[] = [];
  for (const [datacenter, state] of copies) {
    if (state.object?.version !== undefined) candidates.push({ datacenter, version: state.object.version, kind: 'put' });
    if (state.tombstone?.version !== undefined) candidates.push({ datacenter, version: state.tombstone.version, kind: 'delete' });
  }
  const best = pickWinner(candidates);
  if (best === undefined) return { winner: undefined, copies: decideUnmanaged(copies, options.unmanaged, options.key) };
  return best.kind === 'put' ? decidePut(copies, best.version) : decideDelete(copies, best, options);
}

function sameVersion(a: Version | undefined, b: Version): boolean {
  return a !== undefined && versionsEqual(a, b);
}

function decidePut(copies: ReadonlyMap<string, CopyState>, version: Version): KeyDecision {
  const holders = [...copies].filter(([, s]) => sameVersion(s.object?.version, version));
  const sources = holders.filter(([, s]) => s.object?.integrity !== 'corrupt').map(([dc]) => dc);
  const reference = (copies.get(sources[0] ?? '') ?? holders[0]?.[1])?.object;
  const winner: Winner = { kind: 'put', version, sha256: reference?.sha256, size: reference?.size ?? 0, sources };
  const out = new Map<string, CopyDecision>();
  for (const [dc, { object, tombstone }] of copies) {
    const removeTombstone = tombstone !== undefined;
    if (object !== undefined && sameVersion(object.version, version)) {
      if (object.integrity === 'corrupt') out.set(dc, { status: 'corrupt', action: { type: 'copy', removeTombstone } });
      else if (removeTombstone) out.set(dc, { status: 'stale', action: { type: 'remove-tombstone' } });
      else out.set(dc, { status: 'equal' });
    } else {
      // An older version, an older delete, or an object without metadata (overwritten by hand): replace it.
      out.set(dc, { status: object === undefined && tombstone === undefined ? 'missing' : 'stale', action: { type: 'copy', removeTombstone } });
    }
  }
  return { winner, copies: out };
}

function decideDelete(copies: ReadonlyMap<string, CopyState>, best: Candidate, options: DecideOptions): KeyDecision {
  const tombstone = copies.get(best.datacenter)?.tombstone;
  const deletedAtMs = tombstone?.deletedAtMs ?? options.nowMs;
  const expired = isExpired(deletedAtMs, options.nowMs, options.tombstoneGraceMs);
  const winner: Winner = { kind: 'delete', version: best.version, metadata: tombstone?.metadata ?? {}, deletedAtMs, expired };
  const out = new Map<string, CopyDecision>();
  for (const [dc, state] of copies) {
    const hasWinningTombstone = sameVersion(state.tombstone?.version, best.version);
    // Past the grace period no older put can arrive any more (the consumers expire tombstones
    // for the same reason), so an expired tombstone is not copied, only obeyed.
    const writeTombstone = !expired && !hasWinningTombstone;
    if (state.object !== undefined) {
      out.set(dc, { status: 'shouldBeDeleted', action: { type: 'delete', writeTombstone, deleteObject: true } });
    } else if (hasWinningTombstone || expired) {
      out.set(dc, { status: 'equal' });
    } else {
      out.set(dc, { status: state.tombstone === undefined ? 'missing' : 'stale', action: { type: 'delete', writeTombstone: true, deleteObject: false } });
    }
  }
  return { winner, copies: out };
}

function decideUnmanaged(copies: ReadonlyMap<string, CopyState>, policy: UnmanagedPolicy, key: string | undefined): Map<string, CopyDecision> {
  const out = new Map<string, CopyDecision>();
  // Adopted, such an object would be replicated everywhere while the API refuses its name (so it
  // could never be deleted), and under the reserved prefix it would pass for shardsync's own.
  const invalidKey = key === undefined ? undefined : validateObjectKey(key);
  const holders = [...copies].filter(([, s]) => s.object !== undefined);
  const etags = new Set(holders.map(([, s]) => (s.object === undefined ? undefined : comparableEtag(s.object.etag))));
  // Adopt the most recently written copy; the others then receive it like any missing or stale copy.
  const newest = holders.reduce<[string, CopyState] | undefined>(
    (best, h) => (best === undefined || (h[1].object?.lastModifiedMs ?? 0) > (best[1].object?.lastModifiedMs ?? 0) ? h : best),
    undefined,
  );
  // The same unmanaged object (one ETag) in every datacenter: nothing differs, so nothing to
  // report, as the routine pass (equal listings) never sees it either; adopt and remove still act.
  const sameEverywhere = holders.length === copies.size && etags.size === 1;
  for (const [dc, state] of copies) {
    if (state.object === undefined || (policy === 'report' && sameEverywhere)) {
      out.set(dc, { status: 'equal' });
    } else if (policy === 'remove') {
      out.set(dc, { status: 'unmanaged', action: { type: 'remove-unmanaged' } });
    } else if (policy === 'adopt' && invalidKey?.ok === false) {
      out.set(dc, {
        status: 'unmanaged',
        blocked: { code: 'SHARDSYNC_RECONCILE_INVALID_KEY', message: `not adopted: ${invalidKey.message}; rename or remove it by hand` },
      });
    } else if (policy === 'adopt' && etags.size > 1) {
      out.set(dc, {
        status: 'unmanaged',
        blocked: {
          code: 'SHARDSYNC_RECONCILE_AMBIGUOUS_UNMANAGED',
          message: `datacenters hold different unmanaged objects under this key (${etags.size} distinct ETags); remove all but one by hand, then adopt`,
        },
      });
    } else if (policy === 'adopt' && newest?.[0] === dc) {
      out.set(dc, { status: 'unmanaged', action: { type: 'adopt' } });
    } else {
      out.set(dc, { status: 'unmanaged' });
    }
  }
  return out;
}

/** True when `a` is strictly newer than `b` (undefined `b` counts as oldest). */
export function isNewer(a: Version, b: Version | undefined): boolean {
  return b === undefined || compareVersions(a, b) > 0;
}
