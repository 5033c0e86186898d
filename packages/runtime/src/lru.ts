/**
 * A bounded map that forgets the least recently used entry first: `get` and `set` make an entry
 * the most recently used. `onEvict` hears of each entry pushed out by the bound (not of `delete`
 * or `clear`), e.g. to release what it holds.
 */
export class LruMap<K, V> {
  readonly #max: number;
  readonly #onEvict: ((key: K, value: V) => void) | undefined;
  /** In least- to most-recently-used order (a Map keeps insertion order). */
  readonly #map = new Map<K, V>();

  /** `maxEntries` 0 keeps nothing. */
  constructor(maxEntries: number, onEvict?: (key: K, value: V) => void) {
    this.#max = maxEntries;
    this.#onEvict = onEvict;
  }

  get(key: K): V | undefined {
    const value = this.#map.get(key);
    if (value !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    if (this.#max === 0) return;
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.#max) {
      const oldest = this.#map.entries().next();
      if (oldest.done !== true) {
        this.#map.delete(oldest.value[0]);
        this.#onEvict?.(oldest.value[0], oldest.value[1]);
      }
    }
  }

  delete(key: K): void {
    this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }

  /** The values, least recently used first, without touching them. */
  values(): IterableIterator<V> {
    return this.#map.values();
  }

  get size(): number {
    return this.#map.size;
  }
}
