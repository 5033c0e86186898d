import { DigestTree, type LeafDigest } from './digest-tree.js';
import { InvalidDigestSummaryError } from './errors.js';
import { compileDigestTreeOptions, type DigestTreeParams } from './tree-options.js';

/** Identifies the summary layout, so a reader rejects a format it does not know. */
export const DIGEST_SUMMARY_FORMAT = 'shardsync.digest-tree.v1';

/**
 * A digest tree in plain JSON: what an agent next to one datacenter's store ships to the
 * reconciler instead of the listing. Only non-empty leaves are included, as
 * `[bucketIndex, sha256Hex, entryCount]`; inner nodes are recomputed on load, so a summary cannot
 * be internally inconsistent. Size grows with occupied buckets (at most `2 ** leafBits`), not keys.
 */
export interface DigestTreeSummary {
  readonly format: typeof DIGEST_SUMMARY_FORMAT;
  readonly leafBits: number;
  readonly fanoutBits: number;
  readonly prefix: string;
  readonly entryCount: number;
  readonly leaves: readonly (readonly [index: number, digest: string, count: number])[];
}

/** Serialisable form of `tree`; `JSON.stringify` it to ship. */
export function toDigestSummary(tree: DigestTree): DigestTreeSummary {
  const { leafBits, fanoutBits, prefix } = tree.params;
  return {
    format: DIGEST_SUMMARY_FORMAT,
    leafBits,
    fanoutBits,
    prefix,
    entryCount: tree.entryCount,
    leaves: [...tree.leaves()].map((l) => [l.index, l.digest, l.count] as const),
  };
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Rebuilds a tree from a summary (already `JSON.parse`d), checking every field because it came
 * over the network. Throws {@link InvalidDigestSummaryError} naming the first problem.
 */
export function fromDigestSummary(value: unknown): DigestTree {
  if (typeof value !== 'object' || value === null) fail(`expected an object, got ${value === null ? 'null' : typeof value}`);
  const s = value as Record<string, unknown>;
  if (s['format'] !== DIGEST_SUMMARY_FORMAT) {
    fail(`format is ${JSON.stringify(s['format'])}, expected ${JSON.stringify(DIGEST_SUMMARY_FORMAT)}; is the sender running another shardsync version?`);
  }
  // Options have defaults, but a summary must state its shape: a missing field must not silently
  // become the default and make two different shapes look comparable.
  const { leafBits, fanoutBits, prefix } = s;
  if (typeof leafBits !== 'number') fail('leafBits must be a number');
  if (typeof fanoutBits !== 'number') fail('fanoutBits must be a number');
  if (typeof prefix !== 'string') fail('prefix must be a string');
  let params: DigestTreeParams;
  try {
    params = compileDigestTreeOptions({ leafBits, fanoutBits, prefix });
  } catch (err) {
    throw new InvalidDigestSummaryError(`invalid digest summary: ${(err as Error).message}`, err);
  }
  if (!Array.isArray(s['leaves'])) fail('leaves must be an array');
  const leaves = s['leaves'] as unknown[];
  const maxIndex = 2 ** params.leafBits;
  const parsed: LeafDigest[] = [];
  let total = 0;
  let previous = -1;
  for (const [position, raw] of leaves.entries()) {
    if (!Array.isArray(raw) || raw.length !== 3) fail(`leaves[${position}] must be [index, digest, count]`);
    const [index, digest, count] = raw as unknown[];
    if (!Number.isInteger(index) || (index as number) <= previous || (index as number) >= maxIndex) {
      fail(`leaves[${position}] index must be an integer below ${maxIndex}, in ascending order without repeats`);
    }
    if (typeof digest !== 'string' || !HEX64.test(digest)) fail(`leaves[${position}] digest must be 64 lowercase hex characters`);
    if (!Number.isSafeInteger(count) || (count as number) < 1) fail(`leaves[${position}] count must be a positive integer`);
    previous = index as number;
    total += count as number;
    parsed.push({ index: index as number, digest, count: count as number });
  }
  if (s['entryCount'] !== total) fail(`entryCount is ${String(s['entryCount'])} but the leaves hold ${total} entries; the summary is truncated or corrupt`);
  return DigestTree.fromLeaves(params, parsed);
}

function fail(problem: string): never {
  throw new InvalidDigestSummaryError(`invalid digest summary: ${problem}`);
}
