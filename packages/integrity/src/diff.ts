import type { DigestTree } from './digest-tree.js';
import { IncompatibleDigestTreesError } from './errors.js';
import { describeTreeParams, sameTreeParams } from './tree-options.js';

/** A leaf bucket whose contents differ between the compared trees. */
export interface DifferingBucket {
  /** Leaf index; feed it to `entriesInBuckets` to list the keys to compare one by one. */
  readonly index: number;
  /** Each tree's digest of this bucket, in the order the trees were passed. */
  readonly digests: readonly string[];
  /** Each tree's number of entries in this bucket, in the same order. */
  readonly counts: readonly number[];
}

/** Result of {@link diffTrees}. */
export interface TreeDiff {
  /** Differing leaves in bucket order. Empty when every tree holds the same entries. */
  readonly buckets: readonly DifferingBucket[];
  /**
   * Node comparisons made (one per node position examined, however many trees). It grows with
   * the number of differing buckets times `depth * fanout`, not with the number of keys, which
   * is what makes this cheaper than comparing listings.
   */
  readonly comparisons: number;
}

/**
 * Compares two or more digest trees top-down, descending only into nodes whose digests are not
 * all equal, and returns the leaf buckets that differ.
 *
 * Works N-way so a reconciler can compare every datacenter in one pass: a bucket is reported if
 * any tree disagrees with the others. Trees must share `leafBits`, `fanoutBits` and `prefix`,
 * otherwise {@link IncompatibleDigestTreesError} is thrown.
 */
export function diffTrees(first: DigestTree, second: DigestTree, ...rest: DigestTree[]): TreeDiff {
  const trees = [first, second, ...rest];
  for (const tree of trees.slice(1)) {
    if (!sameTreeParams(first.params, tree.params)) {
      throw new IncompatibleDigestTreesError(
        `cannot compare digest trees with different shapes (${describeTreeParams(first.params)} vs ${describeTreeParams(tree.params)}); build every datacenter's tree with the same options`,
      );
    }
  }
  const { depth, fanout } = first.params;
  const buckets: DifferingBucket[] = [];
  let comparisons = 0;

  // Depth-first with an explicit stack: children are pushed in reverse so buckets come out in
  // ascending order without a final sort.
  const stack: { level: number; index: number }[] = [{ level: 0, index: 0 }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const { level, index } = top;
    comparisons++;
    const nodes = trees.map((t) => t.node(level, index));
    const reference = nodes[0]?.digest;
    if (nodes.every((n) => n.digest === reference)) continue;
    if (level === depth) {
      buckets.push({ index, digests: nodes.map((n) => n.digest), counts: nodes.map((n) => n.count) });
      continue;
    }
    for (let i = fanout - 1; i >= 0; i--) stack.push({ level: level + 1, index: index * fanout + i });
  }
  return { buckets, comparisons };
}
