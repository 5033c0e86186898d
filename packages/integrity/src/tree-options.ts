import { hash } from 'node:crypto';
import { InvalidDigestInputError } from './errors.js';

/**
 * How a digest tree splits the key space. Every datacenter must use the same options, or their
 * trees cannot be compared (`IncompatibleDigestTreesError`).
 */
export interface DigestTreeOptions {
  /**
   * Bits of `sha256(key)` that choose a key's leaf bucket, so there are `2 ** leafBits` leaves.
   * More bits means smaller buckets to re-list when one differs, but a larger summary to ship.
   * Must be a multiple of `fanoutBits`, at most 24. Default 12 (4,096 buckets).
   */
  readonly leafBits?: number;
  /**
   * Bits consumed per tree level, so each inner node has `2 ** fanoutBits` children.
   * Default 4 (16 children, so a leaf's bucket number in hex reads as its path from the root).
   */
  readonly fanoutBits?: number;
  /**
   * Only keys starting with this prefix are included; others are ignored. Lets a reconciler
   * compare one dataset or directory, or bound memory by building one tree per prefix.
   * Default `''` (all keys).
   */
  readonly prefix?: string;
}

/** Validated tree shape, as produced by {@link compileDigestTreeOptions}. */
export interface DigestTreeParams {
  readonly leafBits: number;
  readonly fanoutBits: number;
  readonly prefix: string;
  /** Number of levels below the root: `leafBits / fanoutBits`. Leaves are at level `depth`. */
  readonly depth: number;
  /** Children per inner node: `2 ** fanoutBits`. */
  readonly fanout: number;
}

export const DEFAULT_LEAF_BITS = 12;
export const DEFAULT_FANOUT_BITS = 4;
const MAX_LEAF_BITS = 24;
const MAX_FANOUT_BITS = 8;

/** Validates options and fills defaults; throws {@link InvalidDigestInputError} naming the bad field. */
export function compileDigestTreeOptions(options: DigestTreeOptions = {}): DigestTreeParams {
  const fanoutBits = options.fanoutBits ?? DEFAULT_FANOUT_BITS;
  const leafBits = options.leafBits ?? DEFAULT_LEAF_BITS;
  const prefix = options.prefix ?? '';
  if (!Number.isInteger(fanoutBits) || fanoutBits < 1 || fanoutBits > MAX_FANOUT_BITS) {
    throw new InvalidDigestInputError(`fanoutBits must be an integer from 1 to ${MAX_FANOUT_BITS}, got ${fanoutBits}`);
  }
  if (!Number.isInteger(leafBits) || leafBits < fanoutBits || leafBits > MAX_LEAF_BITS || leafBits % fanoutBits !== 0) {
    throw new InvalidDigestInputError(
      `leafBits must be a multiple of fanoutBits (${fanoutBits}) from ${fanoutBits} to ${MAX_LEAF_BITS}, got ${leafBits}`,
    );
  }
  if (typeof prefix !== 'string') {
    throw new InvalidDigestInputError(`prefix must be a string, got ${typeof prefix}`);
  }
  return { leafBits, fanoutBits, prefix, depth: leafBits / fanoutBits, fanout: 2 ** fanoutBits };
}

/**
 * The leaf bucket of `key`: the first `leafBits` bits of `sha256(key)` (UTF-8) as a number.
 *
 * Hashing, rather than cutting the sorted key space into lexicographic ranges, is what makes the
 * boundaries identical in every datacenter: a range split like "the first 1,000 keys" moves as
 * soon as one datacenter has a key the other lacks, so every later range would differ too. A
 * hash bucket depends only on the key itself. The price is that a bucket is not a listable
 * prefix, so drilling into one means filtering a local listing with this function.
 */
export function bucketOf(key: string, leafBits: number): number {
  // One-shot crypto.hash: a pass calls this for every listed key, and it costs a third of
  // createHash().update().digest() (no Hash object per call). The first 8 hex digits are the
  // digest's first 4 bytes, big-endian.
  const head = Number.parseInt(hash('sha256', key, 'hex').slice(0, 8), 16);
  // `>>>` keeps the result unsigned; leafBits <= 24 so the shift is never 32 (a no-op in JS).
  return head >>> (32 - leafBits);
}

/** True if `a` and `b` describe the same tree shape and key filter. */
export function sameTreeParams(a: DigestTreeParams, b: DigestTreeParams): boolean {
  return a.leafBits === b.leafBits && a.fanoutBits === b.fanoutBits && a.prefix === b.prefix;
}

/** Human-readable description for error messages. */
export function describeTreeParams(p: DigestTreeParams): string {
  return `leafBits=${p.leafBits}, fanoutBits=${p.fanoutBits}, prefix=${JSON.stringify(p.prefix)}`;
}
