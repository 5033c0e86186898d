import { formatVersion, objectKeyOf, tombstoneKeyOf, type Version } from '@shardsync/events';
import { hashStream } from '@shardsync/integrity';
import { decideKey } from './decide.js';
import { describeFailure, type FailureInfo } from './errors.js';
import type { CopyState, CopyStatus, WinnerSummary } from './model.js';
import { compilePassRequest, DEFAULT_TOMBSTONE_GRACE_MS, type StoreLookup } from './options.js';
import { objectCopyOf, observed, tombstoneCopyOf } from './read-state.js';
import type { Topology } from '@shardsync/config';

/** Options of {@link inspectKey}. */
export interface InspectKeyOptions {
  readonly topology: Topology;
  readonly stores: StoreLookup;
  readonly dataset: string;
  /** The key, relative to the dataset. */
  readonly key: string;
  /** Default: every datacenter of the dataset. */
  readonly datacenters?: readonly string[] | undefined;
  /** Also read every copy's bytes and check them against its own SHA-256. Default false. */
  readonly verifyBytes?: boolean | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Default 7 days; only matters for whether a missing tombstone counts as divergent. */
  readonly tombstoneGraceMs?: number | undefined;
  readonly now?: (() => number) | undefined;
}

/** One datacenter's copy of a key, for `shardsync verify`. */
export interface InspectedCopy {
  readonly datacenter: string;
  readonly object?:
    | {
        readonly version: string | undefined;
        readonly sha256: string | undefined;
        readonly size: number;
        readonly etag: string;
        readonly lastModified: string;
        readonly contentType: string | undefined;
        /** Only with `verifyBytes`: whether the bytes match the recorded SHA-256. */
        readonly integrity: 'ok' | 'corrupt' | 'unchecked';
      }
    | undefined;
  readonly tombstone?: { readonly version: string | undefined; readonly deletedAt: string } | undefined;
  /** How this copy compares with the winner; undefined when it could not be read. */
  readonly status?: CopyStatus | undefined;
  readonly error?: FailureInfo | undefined;
}

/** Result of {@link inspectKey}. */
export interface KeyInspection {
  readonly dataset: string;
  readonly key: string;
  readonly winner?: WinnerSummary | undefined;
  readonly copies: readonly InspectedCopy[];
  /** Every datacenter could be read and holds the winning state. */
  readonly agree: boolean;
}

const text = (v: Version | undefined): string | undefined => (v === undefined ? undefined : formatVersion(v));

/**
 * One key in every datacenter (version, SHA-256, size, tombstone) and how each copy compares with
 * the winner, with the same rule a pass uses. Reads only; a datacenter that cannot be read is
 * reported with its error, and the others still are.
 */
export async function inspectKey(options: InspectKeyOptions): Promise<KeyInspection> {
  const request = compilePassRequest(options.topology, { dataset: options.dataset, datacenters: options.datacenters });
  const { key, signal } = options;
  const reads = await Promise.all(
    request.datacenters.map(async (dc): Promise<[string, CopyState | FailureInfo]> => {
      try {
        const store = options.stores.of(dc);
        const [objectInfo, tombstoneInfo] = await Promise.all([store.head(objectKeyOf(request.dataset, key), { signal }), store.head(tombstoneKeyOf(request.dataset, key), { signal })]);
        let object = objectInfo === undefined ? undefined : objectCopyOf(observed(objectInfo));
        if (object !== undefined && options.verifyBytes === true && object.sha256 !== undefined) {
          const { info, body } = await store.get(objectKeyOf(request.dataset, key), { ifMatch: object.etag, signal });
          const digest = await hashStream(body).finally(() => body.destroy());
          object = { ...object, integrity: digest.sha256 === object.sha256 && digest.size === info.size ? 'ok' : 'corrupt' };
        }
        return [dc, { object, tombstone: tombstoneInfo === undefined ? undefined : tombstoneCopyOf(observed(tombstoneInfo)) }];
      } catch (err) {
        return [dc, describeFailure(err)];
      }
    }),
  );
  const states = new Map<string, CopyState>();
  for (const [dc, r] of reads) if (!('code' in r)) states.set(dc, r);
  const decision = decideKey(states, { unmanaged: 'report', nowMs: (options.now ?? Date.now)(), tombstoneGraceMs: options.tombstoneGraceMs ?? DEFAULT_TOMBSTONE_GRACE_MS });
  const copies = reads.map(([datacenter, r]): InspectedCopy => {
    if ('code' in r) return { datacenter, error: r };
    const { object, tombstone } = r;
    return {
      datacenter,
      object:
        object === undefined
          ? undefined
          : { version: text(object.version), sha256: object.sha256, size: object.size, etag: object.etag, lastModified: new Date(object.lastModifiedMs).toISOString(), contentType: object.contentType, integrity: object.integrity },
      tombstone: tombstone === undefined ? undefined : { version: text(tombstone.version), deletedAt: new Date(tombstone.deletedAtMs).toISOString() },
      status: decision.copies.get(datacenter)?.status,
    };
  });
  const w = decision.winner;
  return {
    dataset: request.dataset,
    key,
    winner: w === undefined ? undefined : w.kind === 'put' ? { kind: 'put', version: formatVersion(w.version), sha256: w.sha256, size: w.size } : { kind: 'delete', version: formatVersion(w.version) },
    copies,
    agree: copies.every((c) => c.status === 'equal'),
  };
}
