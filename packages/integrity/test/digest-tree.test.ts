import { createHash } from 'node:crypto';
import { setImmediate } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  bucketOf,
  buildDigestTree,
  buildDigestTreeFrom,
  DigestTreeBuilder,
  compileDigestTreeOptions,
  diffTrees,
  entriesInBuckets,
  IncompatibleDigestTreesError,
  InvalidDigestInputError,
  sha256Hex,
  type DigestEntry,
} from '../src/index.js';

function listing(count: number, prefix = 'models/llama/'): DigestEntry[] {
  return Array.from({ length: count }, (_, i) => ({ key: `${prefix}shard-${String(i).padStart(6, '0')}.bin`, fingerprint: `v1:${sha256Hex(String(i))}` }));
}

/** Deterministic shuffle (mulberry32) so failures reproduce. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  let s = seed;
  const rand = (): number => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function withFingerprint(entries: readonly DigestEntry[], indexes: readonly number[]): DigestEntry[] {
  const changed = new Set(indexes);
  return entries.map((e, i) => (changed.has(i) ? { key: e.key, fingerprint: 'v2:changed' } : e));
}

const params = compileDigestTreeOptions();
const SMALL = { leafBits: 4, fanoutBits: 4 } as const;

/** Finds two keys (from a family of candidates) that land in the same bucket of a SMALL tree. */
function sameBucketPair(candidate: (i: number) => [string, string]): [string, string] {
  for (let i = 0; i < 1000; i++) {
    const pair = candidate(i);
    if (bucketOf(pair[0], SMALL.leafBits) === bucketOf(pair[1], SMALL.leafBits)) return pair;
  }
  throw new Error('no candidate pair shares a bucket');
}
/** Comparisons for one differing leaf: the root, then every child of each differing inner node. */
const ONE_BUCKET_COST = 1 + params.depth * params.fanout;

describe('bucketOf and DigestTreeBuilder.place', () => {
  it('a key\'s bucket is the first leafBits bits of the SHA-256 of its UTF-8 bytes', () => {
    for (const key of ['models/a.bin', 'ünï/cödé', '😀', '', 'x'.repeat(1024)]) {
      const head = createHash('sha256').update(Buffer.from(key, 'utf8')).digest().readUInt32BE(0);
      for (const bits of [1, 4, 12, 16, 24]) expect(bucketOf(key, bits)).toBe(head >>> (32 - bits));
    }
  });

  it('place returns the bucket add() filed the entry in, and undefined for a key outside the prefix', () => {
    const builder = new DigestTreeBuilder({ prefix: 'models/', leafBits: 12 });
    expect(builder.place({ key: 'models/a', fingerprint: 'f' })).toBe(bucketOf('models/a', 12));
    expect(builder.place({ key: 'other/a', fingerprint: 'f' })).toBeUndefined();
    expect(builder.add({ key: 'models/b', fingerprint: 'g' })).toBe(true);
    const tree = builder.finish();
    expect([...tree.leaves()].reduce((n, leaf) => n + leaf.count, 0)).toBe(2);
  });
});

describe('diffTrees', () => {
  it('reports nothing, after comparing only the roots, when both datacenters hold the same entries', () => {
    const entries = listing(500);
    const diff = diffTrees(buildDigestTree(entries), buildDigestTree(entries));
    expect(diff.buckets).toEqual([]);
    expect(diff.comparisons).toBe(1);
  });

  it('builds the same tree whatever order the entries arrive in', () => {
    const entries = listing(300);
    const a = buildDigestTree(entries);
    const b = buildDigestTree(shuffled(entries, 7));
    expect(b.root).toEqual(a.root);
    expect(diffTrees(a, b).buckets).toEqual([]);
  });

  it('narrows one changed fingerprint down to exactly the bucket of that key', () => {
    const entries = listing(1000);
    const changed = withFingerprint(entries, [421]);
    const diff = diffTrees(buildDigestTree(entries), buildDigestTree(changed));
    const key = entries[421]?.key ?? '';
    expect(diff.buckets.map((b) => b.index)).toEqual([bucketOf(key, params.leafBits)]);
    expect(diff.buckets[0]?.counts).toEqual([expect.any(Number), expect.any(Number)]);
    expect(diff.buckets[0]?.counts[0]).toBe(diff.buckets[0]?.counts[1]);
  });

  it('reports the bucket of a key that one datacenter is missing, with differing counts', () => {
    const entries = listing(1000);
    const missing = entries[17];
    const diff = diffTrees(buildDigestTree(entries), buildDigestTree(entries.filter((e) => e !== missing)));
    expect(diff.buckets).toHaveLength(1);
    const [bucket] = diff.buckets;
    expect(bucket?.index).toBe(bucketOf(missing?.key ?? '', params.leafBits));
    expect((bucket?.counts[0] ?? 0) - (bucket?.counts[1] ?? 0)).toBe(1);
  });

  it('costs the same number of comparisons for one difference among 100 keys as among 20,000', () => {
    const small = listing(100);
    const large = listing(20_000);
    const smallDiff = diffTrees(buildDigestTree(small), buildDigestTree(withFingerprint(small, [50])));
    const largeDiff = diffTrees(buildDigestTree(large), buildDigestTree(withFingerprint(large, [50])));
    expect(smallDiff.comparisons).toBe(ONE_BUCKET_COST);
    expect(largeDiff.comparisons).toBe(ONE_BUCKET_COST);
  });

  it('grows comparisons with the number of differing buckets, never beyond the per-bucket bound', () => {
    const entries = listing(20_000);
    const base = buildDigestTree(entries);
    let previous = 0;
    for (const differing of [1, 4, 16, 64]) {
      const indexes = Array.from({ length: differing }, (_, i) => i * 97);
      const diff = diffTrees(base, buildDigestTree(withFingerprint(entries, indexes)));
      const buckets = new Set(indexes.map((i) => bucketOf(entries[i]?.key ?? '', params.leafBits)));
      expect(diff.buckets.map((b) => b.index)).toEqual([...buckets].sort((x, y) => x - y));
      expect(diff.comparisons).toBeGreaterThan(previous);
      expect(diff.comparisons).toBeLessThanOrEqual(1 + buckets.size * params.depth * params.fanout);
      previous = diff.comparisons;
    }
  });

  it('compares three datacenters at once and reports every tree\'s digest of a differing bucket', () => {
    const entries = listing(200);
    const east = buildDigestTree(entries);
    const west = buildDigestTree(shuffled(entries, 3));
    const north = buildDigestTree(withFingerprint(entries, [9]));
    const diff = diffTrees(east, west, north);
    expect(diff.buckets).toHaveLength(1);
    const digests = diff.buckets[0]?.digests ?? [];
    expect(digests[0]).toBe(digests[1]);
    expect(digests[2]).not.toBe(digests[0]);
  });

  it('refuses to compare trees built with different shapes or prefixes', () => {
    const entries = listing(10);
    expect(() => diffTrees(buildDigestTree(entries), buildDigestTree(entries, { leafBits: 8 }))).toThrow(IncompatibleDigestTreesError);
    expect(() => diffTrees(buildDigestTree(entries), buildDigestTree(entries, { prefix: 'models/' }))).toThrow(/same options/);
  });
});

describe('digest tree contents', () => {
  it('hashes a leaf as the SHA-256 of its sorted "key NUL fingerprint LF" lines, so every agent agrees', () => {
    const [first, second] = sameBucketPair((i) => [`a-${i}`, `b-${i}`]);
    const tree = buildDigestTree([{ key: second, fingerprint: 'f2' }, { key: first, fingerprint: 'f1' }], SMALL);
    expect([...tree.leaves()]).toEqual([
      { index: bucketOf(first, SMALL.leafBits), digest: sha256Hex(`${first}\0f1\n${second}\0f2\n`), count: 2 },
    ]);
  });

  it('orders keys by UTF-8 bytes (S3 listing order), not by JavaScript string order', () => {
    // U+FFFD sorts after an astral character in UTF-16 code units but before it in UTF-8 bytes.
    const [replacement, emoji] = sameBucketPair((i) => [`k${i}\uFFFD`, `k${i}\u{1F600}`]);
    expect(replacement < emoji).toBe(false);
    const tree = buildDigestTree([{ key: emoji, fingerprint: 'e' }, { key: replacement, fingerprint: 'r' }], SMALL);
    expect([...tree.leaves()].map((l) => l.digest)).toEqual([sha256Hex(`${replacement}\0r\n${emoji}\0e\n`)]);
  });

  it('ignores keys outside the prefix, so only that part of the key space is compared', () => {
    const models = listing(50, 'models/');
    const other = listing(50, 'datasets/');
    const a = buildDigestTree([...models, ...other], { prefix: 'models/' });
    const b = buildDigestTree([...models, ...withFingerprint(other, [1, 2, 3])], { prefix: 'models/' });
    expect(a.entryCount).toBe(50);
    expect(diffTrees(a, b).buckets).toEqual([]);
  });

  it('rejects a key listed twice, because the listing it came from is wrong', () => {
    expect(() => buildDigestTree([{ key: 'k', fingerprint: '1' }, { key: 'k', fingerprint: '2' }])).toThrow(InvalidDigestInputError);
  });

  it('rejects separators inside fingerprints that would make two listings hash alike', () => {
    expect(() => buildDigestTree([{ key: 'a', fingerprint: '1\nb\0' }])).toThrow(/newline/);
    expect(() => buildDigestTree([{ key: 'a', fingerprint: '1\0b' }])).toThrow(/NUL/);
  });

  it('takes keys with a NUL (S3 allows them) in a line of their own that no plain line can be, and still finds them listed twice', () => {
    const leafOf = (entries: DigestEntry[]) => [...buildDigestTree(entries, SMALL).leaves()].map((l) => l.digest);
    const [nul, plain] = sameBucketPair((i) => [`a${i}\0b`, `a${i}`]);
    // The plain line of `nul` would read as key `plain` with fingerprint "b\0f": two listings alike.
    expect(leafOf([{ key: nul, fingerprint: 'f' }])).toEqual([sha256Hex(`\0\0${JSON.stringify(nul)}\0f\n`)]);
    expect(leafOf([{ key: nul, fingerprint: 'f' }, { key: plain, fingerprint: 'g' }])).toEqual([sha256Hex(`\0\0${JSON.stringify(nul)}\0f\n${plain}\0g\n`)]);
    expect(() => buildDigestTree([{ key: nul, fingerprint: '1' }, { key: nul, fingerprint: '2' }])).toThrow(/more than once/);
  });

  it('validates the tree shape options with a message naming the rule', () => {
    expect(() => compileDigestTreeOptions({ leafBits: 10, fanoutBits: 4 })).toThrow(/multiple of fanoutBits/);
    expect(() => compileDigestTreeOptions({ fanoutBits: 0 })).toThrow(/fanoutBits/);
    expect(compileDigestTreeOptions({ leafBits: 16 })).toMatchObject({ depth: 4, fanout: 16, prefix: '' });
  });

  it('builds the same tree from an async listing as from an array', async () => {
    const entries = listing(100);
    async function* pages(): AsyncGenerator<DigestEntry> {
      for (const e of entries) {
        await setImmediate(); // a real listing yields between pages
        yield e;
      }
    }
    expect((await buildDigestTreeFrom(pages())).root).toEqual(buildDigestTree(entries).root);
  });

  it('entriesInBuckets selects exactly the entries to drill into after a diff', async () => {
    const entries = listing(2000);
    const diff = diffTrees(buildDigestTree(entries), buildDigestTree(withFingerprint(entries, [1234])));
    const selected: DigestEntry[] = [];
    for await (const e of entriesInBuckets(entries, diff.buckets.map((b) => b.index))) selected.push(e);
    expect(selected.map((e) => e.key)).toContain(entries[1234]?.key);
    expect(selected.length).toBe(diff.buckets[0]?.counts[0]);
  });
});
