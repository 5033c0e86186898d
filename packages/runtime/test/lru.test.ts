import { describe, expect, it } from 'vitest';
import { LruMap } from '../src/lru.js';

describe('LruMap', () => {
  it('forgets the least recently used entry first, a read counting as a use', () => {
    const evicted: string[] = [];
    const map = new LruMap<string, number>(2, (key) => evicted.push(key));
    map.set('a', 1);
    map.set('b', 2);
    expect(map.get('a')).toBe(1);
    map.set('c', 3);
    expect(evicted).toEqual(['b']);
    expect(map.get('b')).toBeUndefined();
    expect([...map.values()]).toEqual([1, 3]);
    expect(map.size).toBe(2);
  });

  it('reports only what the bound pushes out, not deletes, clears or replaced values', () => {
    const evicted: Array<[string, number]> = [];
    const map = new LruMap<string, number>(2, (key, value) => evicted.push([key, value]));
    map.set('a', 1);
    map.set('a', 2);
    map.set('b', 3);
    map.delete('b');
    map.set('c', 4);
    map.clear();
    expect(evicted).toEqual([]);
    expect(map.size).toBe(0);
  });

  it('keeps nothing with a bound of 0', () => {
    const map = new LruMap<string, number>(0);
    map.set('a', 1);
    expect(map.get('a')).toBeUndefined();
    expect(map.size).toBe(0);
  });
});
