import type { Readable } from 'node:stream';
import { DelegatingStore } from '@shardsync/objectstore';
import type { CopyOptions, CopyResult, DeleteOptions, GetOptions, GetResult, HeadOptions, ListEntry, ListOptions, ObjectInfo, ObjectStore, PutOptions, PutResult } from '@shardsync/objectstore';

/** Requests made to the stores, by operation. `list` counts listings started, not pages. */
export interface RequestCounts {
  head: number;
  get: number;
  put: number;
  copy: number;
  delete: number;
  list: number;
}

/** Adds up requests; one per pass phase, so reports can say what the drill-down and repairs cost. */
export class RequestCounter {
  readonly counts: RequestCounts = { head: 0, get: 0, put: 0, copy: 0, delete: 0, list: 0 };

  /** Requests other than listings: what "cost beyond listing" means in reports and benchmarks. */
  get beyondListing(): number {
    const c = this.counts;
    return c.head + c.get + c.put + c.copy + c.delete;
  }
}

/** Adds `b` into `a`. */
export function addCounts(a: RequestCounts, b: Readonly<RequestCounts>): RequestCounts {
  for (const op of Object.keys(a) as (keyof RequestCounts)[]) a[op] += b[op];
  return a;
}

/**
 * An {@link ObjectStore} that counts the calls made through it. The count is at the interface:
 * a store that emulates conditional writes (HEAD before the write, for servers that ignore
 * If-Match) makes that HEAD internally, and it is not seen here. Uploads are not counted: a pass
 * never touches them (the staging collection does, on the bare store).
 */
export class CountingStore extends DelegatingStore {
  readonly #counter: RequestCounter;

  constructor(inner: ObjectStore, counter: RequestCounter) {
    super(inner);
    this.#counter = counter;
  }

  override head(key: string, options?: HeadOptions): Promise<ObjectInfo | undefined> {
    this.#counter.counts.head++;
    return super.head(key, options);
  }

  override get(key: string, options?: GetOptions): Promise<GetResult> {
    this.#counter.counts.get++;
    return super.get(key, options);
  }

  override put(key: string, body: Readable | Uint8Array, options?: PutOptions): Promise<PutResult> {
    this.#counter.counts.put++;
    return super.put(key, body, options);
  }

  override copy(sourceKey: string, destinationKey: string, options?: CopyOptions): Promise<CopyResult> {
    this.#counter.counts.copy++;
    return super.copy(sourceKey, destinationKey, options);
  }

  override delete(key: string, options?: DeleteOptions): Promise<void> {
    this.#counter.counts.delete++;
    return super.delete(key, options);
  }

  override list(options?: ListOptions): AsyncIterable<ListEntry> {
    this.#counter.counts.list++;
    return super.list(options);
  }
}

/** The same stores, counted by `counter`. */
export function countingStores(stores: ReadonlyMap<string, ObjectStore>, counter: RequestCounter): Map<string, ObjectStore> {
  return new Map([...stores].map(([dc, store]) => [dc, new CountingStore(store, counter)]));
}
