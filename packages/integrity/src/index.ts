export {
  ChecksumMismatchError,
  IncompatibleDigestTreesError,
  IntegrityError,
  InvalidDigestInputError,
  InvalidDigestSummaryError,
} from './errors.js';
export type { ChecksumMismatchDetails, IntegrityErrorCode } from './errors.js';

export { HashingStream, hashStream, isSha256Hex, normaliseSha256Hex, sha256Hex } from './sha256.js';
export type { DigestResult } from './sha256.js';

export { assertDigest, VerifyingStream, verifySource } from './verify.js';
export type { ExpectedDigest, VerifyingStreamOptions } from './verify.js';

export { bucketOf, compileDigestTreeOptions, DEFAULT_FANOUT_BITS, DEFAULT_LEAF_BITS } from './tree-options.js';
export type { DigestTreeOptions, DigestTreeParams } from './tree-options.js';

export { buildDigestTree, buildDigestTreeFrom, DigestTree, DigestTreeBuilder, entriesInBuckets } from './digest-tree.js';
export type { DigestEntry, LeafDigest, NodeDigest } from './digest-tree.js';

export { diffTrees } from './diff.js';
export type { DifferingBucket, TreeDiff } from './diff.js';

export { DIGEST_SUMMARY_FORMAT, fromDigestSummary, toDigestSummary } from './summary.js';
export type { DigestTreeSummary } from './summary.js';
