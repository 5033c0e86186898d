import { objectKeyOf, tombstoneKeyOf, validateObjectKey } from '@shardsync/events';
import { DelegatingStore, type ListEntry, type ListOptions, type ObjectStore } from '@shardsync/objectstore';
import type { StoreLookup } from '@shardsync/reconcile';
import { UsageError } from '../errors.js';

// `reconcile --key` scopes a pass to exact keys without a reconcile-package option of its own: the
// pass lists the keys' longest common prefix, and the stores it is given drop every listed entry
// that is not one of the keys (object or tombstone). A pass only learns about keys from its
// listing, so nothing else under that prefix (`tmp/debug.bin.keep` beside `tmp/debug.bin`) is
// compared, adopted or removed, and the report counts only the keys asked for.

/** The keys given to `--key`, checked like every object key, without repeats, in the order given. */
export function compileExactKeys(keys: readonly string[]): string[] {
  if (keys.length === 0) throw new UsageError('--key: give at least one key');
  for (const key of keys) {
    const valid = validateObjectKey(key);
    if (!valid.ok) throw new UsageError(`--key: ${valid.message}`);
  }
  return [...new Set(keys)];
}

/** The prefix a pass over exactly these keys lists: their longest common prefix (the key itself, for one key). */
export function commonPrefix(keys: readonly string[]): string {
  const [first, ...rest] = keys;
  if (first === undefined) return '';
  let length = first.length;
  for (const key of rest) {
    let i = 0;
    while (i < length && i < key.length && key.charCodeAt(i) === first.charCodeAt(i)) i++;
    length = i;
  }
  // Never half a surrogate pair (two emoji sharing their first code unit): it has no UTF-8 form,
  // and a listing under it would fail or match nothing.
  const last = first.charCodeAt(length - 1);
  if (length > 0 && last >= 0xd800 && last <= 0xdbff) length -= 1;
  return first.slice(0, length);
}

/**
 * The stores of a pass over exact keys of one dataset: each lists only those keys' objects and
 * tombstones, and remembers which keys some datacenter listed, so the command can name the keys
 * no datacenter holds (a typo, or a key relative to the wrong place).
 */
export class ExactKeyScope implements StoreLookup {
  readonly dataset: string;
  readonly keys: readonly string[];
  readonly #inner: StoreLookup;
  /** Store key (object or tombstone) -> the dataset-relative key it belongs to. */
  readonly #wanted: ReadonlyMap<string, string>;
  readonly #listed = new Set<string>();
  readonly #stores = new Map<string, ObjectStore>();

  constructor(inner: StoreLookup, dataset: string, keys: readonly string[]) {
    this.#inner = inner;
    this.dataset = dataset;
    this.keys = keys;
    this.#wanted = new Map(keys.flatMap((k) => [[objectKeyOf(dataset, k), k] as const, [tombstoneKeyOf(dataset, k), k] as const]));
  }

  /** What the pass lists: the keys' longest common prefix. */
  get prefix(): string {
    return commonPrefix(this.keys);
  }

  of(datacenter: string): ObjectStore {
    let store = this.#stores.get(datacenter);
    if (store === undefined) {
      store = new ExactKeyStore(this.#inner.of(datacenter), (key) => {
        const wanted = this.#wanted.get(key);
        if (wanted !== undefined) this.#listed.add(wanted);
        return wanted !== undefined;
      });
      this.#stores.set(datacenter, store);
    }
    return store;
  }

  /** Keys that no datacenter listed, neither as an object nor as a tombstone (so far). */
  unlisted(): string[] {
    return this.keys.filter((k) => !this.#listed.has(k));
  }
}

/** A store whose listings hold only the keys `keep` accepts; every other call goes to the store as it is. */
export class ExactKeyStore extends DelegatingStore {
  readonly #keep: (key: string) => boolean;

  constructor(inner: ObjectStore, keep: (key: string) => boolean) {
    super(inner);
    this.#keep = keep;
  }

  override async *list(options?: ListOptions): AsyncIterable<ListEntry> {
    for await (const entry of super.list(options)) {
      if (this.#keep(entry.key)) yield entry;
    }
  }
}
