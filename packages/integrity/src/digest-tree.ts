import { createHash } from 'node:crypto';
import { InvalidDigestInputError } from './errors.js';
import { bucketOf, compileDigestTreeOptions, type DigestTreeOptions, type DigestTreeParams } from './tree-options.js';

/**
 * One object as a datacenter sees it. `fingerprint` is whatever the caller derives from the
 * object's state (e.g. `version + sha256`, or the ETag for a cheap pass); equal fingerprints must
 * mean "no repair needed".
 */
export interface DigestEntry {
  readonly key: string;
  readonly fingerprint: string;
}

/** Digest and number of entries under one tree node. */
export interface NodeDigest {
  /** Lowercase hex SHA-256. */
  readonly digest: string;
  readonly count: number;
}

/** A non-empty leaf bucket. */
export interface LeafDigest extends NodeDigest {
  readonly index: number;
}

interface StoredNode {
  readonly digest: Buffer;
  readonly count: number;
}

const EMPTY_LEAF = createHash('sha256').digest();

/**
 * A fixed-shape Merkle tree over hash buckets of keys: leaf `i` holds the keys whose
 * `sha256(key)` starts with the `leafBits` bits of `i`; an inner node's digest is the SHA-256 of
 * its children's digests (raw 32 bytes each, in order). Because the shape never depends on which
 * keys exist, two datacenters' trees can be compared node by node.
 *
 * Only non-empty nodes are stored; an empty subtree has a known digest per level, so memory and
 * build time grow with the number of occupied buckets, not with `2 ** leafBits`.
 */
export class DigestTree {
  readonly params: DigestTreeParams;
  /** levels[0] is the root level, levels[depth] the leaves; absent entries are empty nodes. */
  readonly #levels: Map<number, StoredNode>[];
  readonly #emptyDigest: Buffer[];

  private constructor(params: DigestTreeParams, leaves: Map<number, StoredNode>) {
    this.params = params;
    this.#emptyDigest = emptyDigests(params);
    this.#levels = new Array<Map<number, StoredNode>>(params.depth + 1);
    this.#levels[params.depth] = leaves;
    for (let level = params.depth - 1; level >= 0; level--) {
      this.#levels[level] = this.#combine(level, this.#level(level + 1));
    }
  }

  /**
   * Builds a tree from already-digested leaves, e.g. a summary received from another datacenter.
   * Validation of untrusted input is the caller's job (see `fromDigestSummary`).
   */
  static fromLeaves(params: DigestTreeParams, leaves: Iterable<LeafDigest>): DigestTree {
    const map = new Map<number, StoredNode>();
    for (const leaf of leaves) map.set(leaf.index, { digest: Buffer.from(leaf.digest, 'hex'), count: leaf.count });
    return new DigestTree(params, map);
  }

  /** Root digest: equal roots mean equal entry sets (under this tree's prefix). */
  get root(): NodeDigest {
    return this.node(0, 0);
  }

  /** Number of entries in the tree. */
  get entryCount(): number {
    return this.root.count;
  }

  /** Digest of node `index` at `level` (0 = root, `params.depth` = leaves). Empty nodes have count 0. */
  node(level: number, index: number): NodeDigest {
    const stored = this.#level(level).get(index);
    if (stored !== undefined) return { digest: stored.digest.toString('hex'), count: stored.count };
    return { digest: this.#emptyAt(level).toString('hex'), count: 0 };
  }

  /** Non-empty leaves in bucket order. */
  *leaves(): Generator<LeafDigest> {
    const leaves = this.#level(this.params.depth);
    for (const index of [...leaves.keys()].sort((a, b) => a - b)) {
      yield { index, ...this.node(this.params.depth, index) };
    }
  }

  #level(level: number): Map<number, StoredNode> {
    const map = this.#levels[level];
    if (map === undefined) throw new RangeError(`level must be 0..${this.params.depth}, got ${level}`);
    return map;
  }

  #emptyAt(level: number): Buffer {
    const digest = this.#emptyDigest[level];
    if (digest === undefined) throw new RangeError(`level must be 0..${this.params.depth}, got ${level}`);
    return digest;
  }

  #combine(level: number, children: Map<number, StoredNode>): Map<number, StoredNode> {
    const { fanout, fanoutBits } = this.params;
    const parents = new Set<number>();
    for (const index of children.keys()) parents.add(index >>> fanoutBits);
    const emptyChild = this.#emptyAt(level + 1);
    const out = new Map<number, StoredNode>();
    for (const parent of parents) {
      const hash = createHash('sha256');
      let count = 0;
      for (let i = 0; i < fanout; i++) {
        const child = children.get(parent * fanout + i);
        hash.update(child?.digest ?? emptyChild);
        count += child?.count ?? 0;
      }
      out.set(parent, { digest: hash.digest(), count });
    }
    return out;
  }
}

function emptyDigests(params: DigestTreeParams): Buffer[] {
  const out = new Array<Buffer>(params.depth + 1);
  let digest = EMPTY_LEAF;
  out[params.depth] = digest;
  for (let level = params.depth - 1; level >= 0; level--) {
    const hash = createHash('sha256');
    for (let i = 0; i < params.fanout; i++) hash.update(digest);
    digest = hash.digest();
    out[level] = digest;
  }
  return out;
}

/**
 * An entry's leaf line: `key NUL fingerprint LF`. S3 allows a NUL in a key (a writer other than
 * shardsync can list one), where it would be taken for the separator, so such a key is written
 * `NUL NUL <key as JSON> NUL fingerprint LF` instead: JSON escapes every NUL, and no plain line
 * starts with two NULs (that would take an empty key and a fingerprint with a NUL), so no two
 * listings serialise alike. Every other key keeps its line, and so every digest agents shipped.
 */
function lineOf(key: string, fingerprint: string): Buffer {
  const field = key.includes('\0') ? `\0\0${JSON.stringify(key)}` : key;
  return Buffer.from(`${field}\0${fingerprint}\n`, 'utf8');
}

/**
 * Accumulates entries in any order and produces a {@link DigestTree}.
 *
 * A leaf's digest is `sha256` over its entries' `key \0 fingerprint \n` lines sorted by the
 * key's UTF-8 bytes (the order S3 lists keys in), so arrival order never matters. Sorting needs
 * the entries of every bucket until {@link DigestTreeBuilder.finish}, so memory is roughly the
 * total size of keys and fingerprints; use `prefix` to build several smaller trees if that is
 * too much.
 */
export class DigestTreeBuilder {
  readonly params: DigestTreeParams;
  readonly #buckets = new Map<number, Buffer[]>();
  #finished = false;

  constructor(options?: DigestTreeOptions) {
    this.params = compileDigestTreeOptions(options);
  }

  /** Adds one entry; returns false if its key is outside the prefix and was ignored. */
  add(entry: DigestEntry): boolean {
    return this.place(entry) !== undefined;
  }

  /**
   * Adds one entry and returns its leaf bucket ({@link bucketOf}), or undefined if its key is
   * outside the prefix and was ignored: callers that index entries by bucket too need not hash
   * the key a second time.
   */
  place(entry: DigestEntry): number | undefined {
    if (this.#finished) throw new Error('DigestTreeBuilder.add() after finish(); create a new builder');
    const { key, fingerprint } = entry;
    if (!key.startsWith(this.params.prefix)) return undefined;
    // The separators must not occur inside the fingerprint, or two different entry sets could
    // serialise to the same bytes and hide a difference. Keys are the store's: see lineOf.
    if (fingerprint.includes('\0') || fingerprint.includes('\n')) {
      throw new InvalidDigestInputError(`fingerprint of ${JSON.stringify(key)} contains a NUL or newline character`);
    }
    const bucket = bucketOf(key, this.params.leafBits);
    let lines = this.#buckets.get(bucket);
    if (lines === undefined) {
      lines = [];
      this.#buckets.set(bucket, lines);
    }
    lines.push(lineOf(key, fingerprint));
    return bucket;
  }

  /** Adds entries from an array or generator. */
  addAll(entries: Iterable<DigestEntry>): this {
    for (const entry of entries) this.add(entry);
    return this;
  }

  /** Adds entries from a stream or paginated listing as they arrive. */
  async addFrom(entries: AsyncIterable<DigestEntry> | Iterable<DigestEntry>): Promise<this> {
    for await (const entry of entries) this.add(entry);
    return this;
  }

  /**
   * Sorts and hashes every bucket. Throws {@link InvalidDigestInputError} if a key was added
   * twice, because a listing has one entry per key and a duplicate means the input is wrong.
   */
  finish(): DigestTree {
    if (this.#finished) throw new Error('DigestTreeBuilder.finish() called twice; create a new builder');
    this.#finished = true;
    const leaves = new Map<number, StoredNode>();
    for (const [index, lines] of this.#buckets) {
      // Plain keys contain no NUL, so comparing whole lines orders them by key bytes first: when
      // one key is a prefix of another, its NUL separator sorts before any byte of the longer key.
      lines.sort((a, b) => Buffer.compare(a, b));
      const hash = createHash('sha256');
      let previousKey: Buffer | undefined;
      for (const line of lines) {
        // The fingerprint holds no NUL, so the last one ends the key, escaped or not.
        const key = line.subarray(0, line.lastIndexOf(0));
        if (previousKey !== undefined && previousKey.equals(key)) {
          throw new InvalidDigestInputError(`key ${JSON.stringify(key.toString('utf8'))} was added more than once`);
        }
        previousKey = key;
        hash.update(line);
      }
      leaves.set(index, { digest: hash.digest(), count: lines.length });
    }
    this.#buckets.clear();
    return DigestTree.fromLeaves(
      this.params,
      [...leaves].map(([index, node]) => ({ index, digest: node.digest.toString('hex'), count: node.count })),
    );
  }
}

/** Builds a tree from entries in any order. */
export function buildDigestTree(entries: Iterable<DigestEntry>, options?: DigestTreeOptions): DigestTree {
  return new DigestTreeBuilder(options).addAll(entries).finish();
}

/** Builds a tree from a stream or paginated listing, in any order, as entries arrive. */
export async function buildDigestTreeFrom(
  entries: AsyncIterable<DigestEntry> | Iterable<DigestEntry>,
  options?: DigestTreeOptions,
): Promise<DigestTree> {
  const builder = await new DigestTreeBuilder(options).addFrom(entries);
  return builder.finish();
}

/**
 * Yields the entries whose keys fall into one of `buckets` (and under the prefix): the drill-down
 * step after `diffTrees` named the differing buckets.
 */
export async function* entriesInBuckets(
  entries: Iterable<DigestEntry> | AsyncIterable<DigestEntry>,
  buckets: Iterable<number>,
  options?: DigestTreeOptions,
): AsyncGenerator<DigestEntry> {
  const params = compileDigestTreeOptions(options);
  const wanted = new Set(buckets);
  for await (const entry of entries) {
    if (entry.key.startsWith(params.prefix) && wanted.has(bucketOf(entry.key, params.leafBits))) yield entry;
  }
}
