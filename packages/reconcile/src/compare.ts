import { bucketOf, diffTrees } from '@shardsync/integrity';
import type { KeyObservation, ListedState } from './model.js';
import type { DatacenterView } from './scan.js';

/** Result of {@link findDivergence}. */
export interface Divergence {
  /** Keys whose listings differ between datacenters (or that a scan flagged), by bucket then key. */
  readonly keys: readonly KeyObservation[];
  /** Leaf buckets whose digests differ. */
  readonly differingBuckets: number;
  /** Tree nodes compared: grows with differing buckets, not with keys. */
  readonly comparisons: number;
  /** Keys looked at inside the differing buckets. */
  readonly candidateKeys: number;
}

/**
 * Compares the datacenters' digest trees top-down and drills only into the leaf buckets that
 * differ: their keys are compared fingerprint by fingerprint, and the keys that differ are
 * returned with what each datacenter listed, for the drill-down (HEADs) and the repair. Cost
 * beyond the listings grows with the number of differing buckets, not with the number of keys.
 */
export async function findDivergence(views: readonly DatacenterView[]): Promise<Divergence> {
  const [first, second, ...rest] = views;
  if (first === undefined) return { keys: [], differingBuckets: 0, comparisons: 0, candidateKeys: 0 };
  const diff = second === undefined ? { buckets: [], comparisons: 0 } : diffTrees(first.tree, second.tree, ...rest.map((v) => v.tree));
  const flagged = new Set<string>();
  const buckets = new Set(diff.buckets.map((b) => b.index));
  for (const view of views) {
    for (const f of view.flagged) {
      flagged.add(f.key);
      buckets.add(f.bucket);
    }
  }
  if (buckets.size === 0) return { keys: [], differingBuckets: 0, comparisons: diff.comparisons, candidateKeys: 0 };

  const wanted = [...buckets].sort((a, b) => a - b);
  const listings = await Promise.all(views.map(async (v) => [v.datacenter, await v.entriesIn(wanted)] as const));
  const byKey = new Map<string, Record<string, ListedState>>();
  for (const [datacenter, entries] of listings) {
    for (const [key, state] of entries) {
      let listed = byKey.get(key);
      if (listed === undefined) {
        listed = {};
        byKey.set(key, listed);
      }
      listed[datacenter] = state;
    }
  }
  const keys: KeyObservation[] = [];
  const { leafBits } = first.tree.params;
  for (const [key, listed] of byKey) {
    const fingerprints = views.map((v) => listed[v.datacenter]?.fingerprint);
    const agree = fingerprints.every((f) => f === fingerprints[0]);
    if (agree && !flagged.has(key)) continue;
    keys.push({ key, bucket: bucketOf(key, leafBits), listed });
  }
  keys.sort((a, b) => a.bucket - b.bucket || compareUtf8(a.key, b.key));
  return { keys, differingBuckets: diff.buckets.length, comparisons: diff.comparisons, candidateKeys: byKey.size };
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
