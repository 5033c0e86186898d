import { datasetPrefix, tombstonePrefix } from '@shardsync/events';
import { bucketOf, DigestTreeBuilder, fromDigestSummary, toDigestSummary, type DigestTree, type DigestTreeSummary } from '@shardsync/integrity';
import type { ObjectStore } from '@shardsync/objectstore';
import type { TokenBucket } from './budget.js';
import { deepCheck } from './deep.js';
import { fingerprintOf } from './fingerprint.js';
import { mapConcurrent } from './concurrency.js';
import type { DeepCheck, ListedState } from './model.js';
import type { PassProgress } from './options.js';

/** Options of {@link scanDatacenter}. */
export interface ScanOptions {
  readonly dataset: string;
  /** Only keys under this prefix (relative to the dataset). Default `''`. */
  readonly prefix?: string | undefined;
  /** Digest tree leaf bits; every datacenter of a comparison must use the same. Default 12. */
  readonly leafBits?: number | undefined;
  /** Deep mode: re-read every object's bytes. Default off. */
  readonly deep?: { readonly budget?: TokenBucket | undefined; readonly concurrency?: number | undefined } | undefined;
  /** Reference time for tombstone expiry, epoch ms. Default `Date.now()`. */
  readonly nowMs?: number | undefined;
  /** Default 7 days. */
  readonly tombstoneGraceMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((progress: PassProgress) => void) | undefined;
}

/** What a scan of one datacenter counted. */
export interface ScanStats {
  /** Objects listed under the dataset (and prefix). */
  readonly objects: number;
  readonly tombstones: number;
  /** Total size of the listed objects. */
  readonly bytes: number;
  /** Deep mode: objects whose bytes were re-read, and how many bytes that was. */
  readonly deepObjects: number;
  readonly deepBytes: number;
}

/**
 * A key that needs a look whatever the other datacenters hold: an object next to a tombstone, or
 * (deep mode) an object that is corrupt or without metadata.
 */
export interface FlaggedKey {
  readonly key: string;
  readonly bucket: number;
}

/**
 * One datacenter as the comparison sees it: a digest tree of its listing, and the listing itself
 * for the buckets the trees disagree on. {@link DatacenterScan} is the local implementation; an
 * agent running next to a remote store can ship `toDigestSummary(tree)`, `stats` and `flagged`
 * as JSON and answer `entriesIn` over the network ({@link createRemoteView}), and the comparison
 * code does not change.
 */
export interface DatacenterView {
  readonly datacenter: string;
  readonly tree: DigestTree;
  readonly stats: ScanStats;
  readonly flagged: readonly FlaggedKey[];
  /** What the listing held for every key in these leaf buckets. */
  entriesIn(buckets: readonly number[]): Promise<ReadonlyMap<string, ListedState>>;
}

/** The local, in-memory result of listing one datacenter. Memory is about the size of its keys. */
export class DatacenterScan implements DatacenterView {
  readonly datacenter: string;
  readonly tree: DigestTree;
  readonly stats: ScanStats;
  readonly flagged: readonly FlaggedKey[];
  readonly #byBucket: ReadonlyMap<number, ReadonlyMap<string, ListedState>>;

  constructor(datacenter: string, tree: DigestTree, byBucket: ReadonlyMap<number, ReadonlyMap<string, ListedState>>, stats: ScanStats, flagged: readonly FlaggedKey[]) {
    this.datacenter = datacenter;
    this.tree = tree;
    this.#byBucket = byBucket;
    this.stats = stats;
    this.flagged = flagged;
  }

  /** The tree as JSON-ready leaves, to ship to a reconciler elsewhere. */
  summary(): DigestTreeSummary {
    return toDigestSummary(this.tree);
  }

  entriesIn(buckets: readonly number[]): Promise<ReadonlyMap<string, ListedState>> {
    const out = new Map<string, ListedState>();
    for (const bucket of buckets) for (const [key, state] of this.#byBucket.get(bucket) ?? []) out.set(key, state);
    return Promise.resolve(out);
  }
}

/** A view of a datacenter scanned elsewhere (by an agent), from what the agent shipped. */
export function createRemoteView(remote: {
  datacenter: string;
  /** `toDigestSummary(tree)` as the agent sent it (already JSON.parsed); validated here. */
  summary: unknown;
  stats: ScanStats;
  flagged: readonly FlaggedKey[];
  entriesIn: (buckets: readonly number[]) => Promise<ReadonlyMap<string, ListedState>>;
}): DatacenterView {
  return { datacenter: remote.datacenter, tree: fromDigestSummary(remote.summary), stats: remote.stats, flagged: remote.flagged, entriesIn: remote.entriesIn };
}

interface Draft {
  object?: { etag: string; size: number; lastModifiedMs: number };
  tombstone?: { lastModifiedMs: number };
}

/**
 * Lists a dataset's objects and tombstones in one datacenter (two prefix listings, run at once, in
 * whatever order the store lists fastest: see the `listing` option of `@shardsync/objectstore`),
 * fingerprints every key ({@link fingerprintOf}) and builds its digest tree. In deep mode it also
 * re-reads every object. Beyond listing, a routine scan makes no request at all.
 */
export async function scanDatacenter(store: ObjectStore, options: ScanOptions): Promise<DatacenterScan> {
  const prefix = options.prefix ?? '';
  const nowMs = options.nowMs ?? Date.now();
  const graceMs = options.tombstoneGraceMs ?? 7 * 24 * 3600 * 1000;
  const { signal, onProgress } = options;
  const drafts = new Map<string, Draft>();
  const draftOf = (key: string): Draft => {
    let draft = drafts.get(key);
    if (draft === undefined) {
      draft = {};
      drafts.set(key, draft);
    }
    return draft;
  };
  let objects = 0;
  let tombstones = 0;
  let bytes = 0;
  const report = (): void => onProgress?.({ phase: 'list', datacenter: store.datacenter, objects, tombstones });
  const objectPrefix = datasetPrefix(options.dataset);
  const deadPrefix = tombstonePrefix(options.dataset);
  await Promise.all([
    (async () => {
      for await (const entry of store.list({ prefix: objectPrefix + prefix, order: 'any', signal })) {
        draftOf(entry.key.slice(objectPrefix.length)).object = { etag: entry.etag, size: entry.size, lastModifiedMs: entry.lastModified.getTime() };
        objects++;
        bytes += entry.size;
        if (objects % 1000 === 0) report();
      }
    })(),
    (async () => {
      for await (const entry of store.list({ prefix: deadPrefix + prefix, order: 'any', signal })) {
        draftOf(entry.key.slice(deadPrefix.length)).tombstone = { lastModifiedMs: entry.lastModified.getTime() };
        tombstones++;
        if (tombstones % 1000 === 0) report();
      }
    })(),
  ]);
  report();

  const deep = options.deep === undefined ? undefined : await readBodies(store, options.dataset, drafts, options.deep, bytes, signal, onProgress);
  const builder = new DigestTreeBuilder({ prefix, leafBits: options.leafBits });
  const byBucket = new Map<number, Map<string, ListedState>>();
  const flagged: FlaggedKey[] = [];
  for (const [key, draft] of drafts) {
    const check = deep?.get(key);
    const object = draft.object === undefined ? undefined : { ...draft.object, deep: check };
    const fingerprint = fingerprintOf({ object, tombstone: draft.tombstone }, nowMs, graceMs);
    // place() hashes the key once for the tree and tells the bucket; keys without a fingerprint
    // (nothing to compare) are indexed all the same.
    const bucket = (fingerprint === undefined ? undefined : builder.place({ key, fingerprint })) ?? bucketOf(key, builder.params.leafBits);
    let entries = byBucket.get(bucket);
    if (entries === undefined) {
      entries = new Map();
      byBucket.set(bucket, entries);
    }
    entries.set(key, { fingerprint, object, tombstone: draft.tombstone });
    // An object next to a tombstone (expired or not) always needs a repair: one of the two is
    // outranked. Equal fingerprints cannot show it when every datacenter was left that way (a
    // delete that wrote its tombstone everywhere but deleted the object nowhere), and once the
    // tombstones expire the deleted object would be back for good.
    if ((check !== undefined && check.integrity !== 'ok') || (object !== undefined && draft.tombstone !== undefined)) flagged.push({ key, bucket });
  }
  let deepObjects = 0;
  let deepBytes = 0;
  for (const check of deep?.values() ?? []) {
    deepObjects++;
    deepBytes += check.info.size;
  }
  return new DatacenterScan(store.datacenter, builder.finish(), byBucket, { objects, tombstones, bytes, deepObjects, deepBytes }, flagged);
}

async function readBodies(
  store: ObjectStore,
  dataset: string,
  drafts: ReadonlyMap<string, Draft>,
  deep: NonNullable<ScanOptions['deep']>,
  totalBytes: number,
  signal: AbortSignal | undefined,
  onProgress: ScanOptions['onProgress'],
): Promise<Map<string, DeepCheck>> {
  const objects = [...drafts].flatMap(([key, d]) => (d.object === undefined ? [] : [{ key, etag: d.object.etag }]));
  const checks = new Map<string, DeepCheck>();
  let done = 0;
  let bytes = 0;
  await mapConcurrent(objects, deep.concurrency ?? 4, async ({ key, etag }) => {
    const check = await deepCheck(store, datasetPrefix(dataset) + key, etag, deep.budget, signal);
    if (check !== undefined) checks.set(key, check);
    done++;
    bytes += check?.info.size ?? 0;
    onProgress?.({ phase: 'deep', datacenter: store.datacenter, objects: done, bytes, totalObjects: objects.length, totalBytes });
  });
  return checks;
}
