import { describe, expect, it } from 'vitest';
import { compareVersions, decideApply, pickWinner, stateOf, type UpdateKind, type Version, type VersionedState } from '../src/index.js';

interface Update extends VersionedState {
  readonly label: string;
}

const at = (physicalMs: number, logical: number, producerId: string, kind: UpdateKind): Update => ({
  version: { physicalMs, logical, producerId },
  kind,
  label: `${kind}@${physicalMs}.${logical}.${producerId}`,
});

/** Applies updates one by one with the shared rule, like a consumer does. */
function applyAll(updates: readonly Update[]): Update | undefined {
  let current: Update | undefined;
  for (const u of updates) if (decideApply(u, current) === 'apply') current = u;
  return current;
}

/** Seeded PRNG (mulberry32), so any failure reproduces with the printed seed. */
function prng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

/** Distinct updates of one key, with colliding physical times and counters across producers. */
function randomUpdates(rand: () => number, count: number): Update[] {
  // Keyed by version: one producer never issues the same version twice, so a version names one update.
  const byVersion = new Map<string, Update>();
  while (byVersion.size < count) {
    const producer = ['p-a', 'p-b', 'p-c'][Math.floor(rand() * 3)] ?? 'p-a';
    const u = at(1_000 + Math.floor(rand() * 4), Math.floor(rand() * 3), producer, rand() < 0.4 ? 'delete' : 'put');
    const version = `${u.version.physicalMs}.${u.version.logical}.${u.version.producerId}`;
    if (!byVersion.has(version)) byVersion.set(version, u);
  }
  return [...byVersion.values()];
}

function maxOf(updates: readonly Update[]): Update {
  return [...updates].sort((a, b) => compareVersions(a.version, b.version)).at(-1) as Update;
}

describe('decideApply', () => {
  const older = at(1_000, 0, 'p-a', 'put');
  const newer = at(1_000, 1, 'p-a', 'delete');

  it('applies anything to a key with no state, including a delete (to record its tombstone)', () => {
    expect(decideApply(newer, undefined)).toBe('apply');
  });

  it('applies a newer update and skips an older one, whatever the kinds', () => {
    expect(decideApply(newer, older)).toBe('apply');
    expect(decideApply(older, newer)).toBe('skip');
  });

  it('never lets a late, older put undo a delete', () => {
    const tombstone = at(2_000, 0, 'p-b', 'delete');
    expect(decideApply(at(1_999, 99, 'p-z', 'put'), tombstone)).toBe('skip');
  });

  it('skips a redelivery of the same version, so applying is idempotent', () => {
    expect(decideApply(older, { ...older })).toBe('skip');
  });

  it('breaks a tie on time and counter by producer id, the same way everywhere', () => {
    expect(decideApply(at(1_000, 0, 'p-b', 'put'), at(1_000, 0, 'p-a', 'put'))).toBe('apply');
    expect(decideApply(at(1_000, 0, 'p-a', 'put'), at(1_000, 0, 'p-b', 'put'))).toBe('skip');
  });
});

describe('pickWinner', () => {
  it('returns the highest version, a tombstone if a delete is newest, keeping extra fields', () => {
    const states = [
      { ...at(1_000, 0, 'p-a', 'put'), dc: 'east' },
      { ...at(1_500, 0, 'p-b', 'delete'), dc: 'west' },
      { ...at(1_200, 4, 'p-c', 'put'), dc: 'north' },
    ];
    expect(pickWinner(states)).toMatchObject({ kind: 'delete', dc: 'west' });
  });

  it('returns undefined when no datacenter has any state', () => {
    expect(pickWinner([])).toBeUndefined();
  });

  it('accepts events directly through stateOf', () => {
    const v: Version = { physicalMs: 5, logical: 0, producerId: 'p' };
    expect(stateOf({ version: v, operation: 'DELETE' })).toEqual({ version: v, kind: 'delete' });
  });
});

describe('convergence (property)', () => {
  it('ends in the same state, the maximum, for every delivery order of up to 5 updates', () => {
    const rand = prng(42);
    for (let round = 0; round < 40; round++) {
      const updates = randomUpdates(rand, 1 + (round % 5));
      const expected = maxOf(updates);
      for (const order of permutations(updates)) {
        expect(applyAll(order)?.label, `round ${round}, order ${order.map((u) => u.label).join(' ')}`).toBe(expected.label);
      }
      expect(pickWinner(updates)?.label).toBe(expected.label);
    }
  });

  it('ends in the maximum for random shuffles with duplicate deliveries of larger sets', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rand = prng(seed);
      const updates = randomUpdates(rand, 5 + Math.floor(rand() * 20));
      // At-least-once delivery: every update arrives 1 to 3 times, in any order.
      const deliveries = updates.flatMap((u) => Array.from({ length: 1 + Math.floor(rand() * 3) }, () => u));
      for (let i = deliveries.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [deliveries[i], deliveries[j]] = [deliveries[j] as Update, deliveries[i] as Update];
      }
      const expected = maxOf(updates);
      expect(applyAll(deliveries)?.label, `seed ${seed}`).toBe(expected.label);
      expect(pickWinner(deliveries)?.label, `seed ${seed}`).toBe(expected.label);
    }
  });
});
