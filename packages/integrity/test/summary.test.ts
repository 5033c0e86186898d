import { describe, expect, it } from 'vitest';
import {
  buildDigestTree,
  diffTrees,
  DIGEST_SUMMARY_FORMAT,
  fromDigestSummary,
  InvalidDigestSummaryError,
  toDigestSummary,
  type DigestEntry,
} from '../src/index.js';

const entries: DigestEntry[] = Array.from({ length: 300 }, (_, i) => ({ key: `ckpt/step-${i}/shard.bin`, fingerprint: `etag-${i}` }));

/** What a remote agent would send: the summary as JSON text. */
function shipped(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

describe('digest tree summaries', () => {
  it('survive a JSON round trip and compare equal to the tree they came from', () => {
    const local = buildDigestTree(entries);
    const remote = fromDigestSummary(shipped(toDigestSummary(local)));
    expect(remote.root).toEqual(local.root);
    expect(diffTrees(local, remote)).toEqual({ buckets: [], comparisons: 1 });
  });

  it('are much smaller than the listing: one line per occupied bucket', () => {
    const summary = toDigestSummary(buildDigestTree(entries, { leafBits: 4, fanoutBits: 4 }));
    expect(summary.format).toBe(DIGEST_SUMMARY_FORMAT);
    expect(summary.leaves.length).toBeLessThanOrEqual(16);
    expect(summary.entryCount).toBe(entries.length);
  });

  it('let a reconciler find the differing bucket from two remotely computed summaries', () => {
    const east = shipped(toDigestSummary(buildDigestTree(entries)));
    const west = shipped(toDigestSummary(buildDigestTree(entries.slice(1))));
    const diff = diffTrees(fromDigestSummary(east), fromDigestSummary(west));
    expect(diff.buckets).toHaveLength(1);
  });

  it('are rejected when truncated, so a lost page never looks like missing keys', () => {
    const summary = toDigestSummary(buildDigestTree(entries));
    const truncated = { ...summary, leaves: summary.leaves.slice(1) };
    expect(() => fromDigestSummary(shipped(truncated))).toThrow(/truncated or corrupt/);
  });

  it('are rejected with a message naming the bad field', () => {
    const summary = toDigestSummary(buildDigestTree(entries));
    const cases: [unknown, RegExp][] = [
      [null, /expected an object/],
      [{ ...summary, format: 'other' }, /format/],
      [{ ...summary, prefix: undefined }, /prefix must be a string/],
      [{ ...summary, leafBits: 5 }, /multiple of fanoutBits/],
      [{ ...summary, leaves: [[0, 'xyz', 1]] }, /digest must be 64/],
      [{ ...summary, leaves: [summary.leaves[1], summary.leaves[0]] }, /ascending order/],
    ];
    for (const [value, message] of cases) {
      expect(() => fromDigestSummary(shipped(value))).toThrow(InvalidDigestSummaryError);
      expect(() => fromDigestSummary(shipped(value))).toThrow(message);
    }
  });
});
