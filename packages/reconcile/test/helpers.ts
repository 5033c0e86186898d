import { createHash } from 'node:crypto';
import type { Topology } from '@shardsync/config';
import { formatVersion, META, objectKeyOf, tombstoneBody, tombstoneKeyOf, type Version } from '@shardsync/events';
import { MemoryObjectStore, type MemoryObjectStoreOptions, type MemoryOperation } from '@shardsync/objectstore';
import type { PassOptions, StoreLookup } from '../src/index.js';

export const DATASET = 'models';
export const DCS = ['dc-a', 'dc-b', 'dc-c'] as const;

/** A topology with three datacenters holding one dataset; the stores are in memory. */
export function testTopology(datacenters: readonly string[] = DCS): Topology {
  return {
    kafka: { brokers: ['127.0.0.1:1'], clientId: 'test', topics: { updates: 'u', deadLetters: 'd' }, partitions: 1, replicationFactor: 1, retentionMs: 86_400_000 },
    redis: { url: 'redis://127.0.0.1:1' },
    datacenters: datacenters.map((name) => ({
      name,
      s3: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', bucket: `bucket-${name}`, forcePathStyle: true, credentials: { type: 'none' as const }, listing: 'flat' as const, artifacts: 'none' as const },
    })),
    datasets: [{ name: DATASET, datacenters: [...datacenters] }],
  };
}

/** One in-memory store per datacenter, found like a `StorePool` finds them. */
export class MemoryStores implements StoreLookup {
  readonly map = new Map<string, MemoryObjectStore>();

  constructor(datacenters: readonly string[] = DCS, options: (datacenter: string) => Omit<MemoryObjectStoreOptions, 'datacenter'> = () => ({})) {
    for (const dc of datacenters) this.map.set(dc, new MemoryObjectStore({ ...options(dc), datacenter: dc, bucket: `bucket-${dc}` }));
  }

  of(datacenter: string): MemoryObjectStore {
    const store = this.map.get(datacenter);
    if (store === undefined) throw new Error(`no store for ${datacenter}`);
    return store;
  }

  /** Every key of every store with its version or "(no metadata)", for asserting that nothing changed. */
  snapshot(): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {};
    for (const [dc, store] of this.map) {
      out[dc] = Object.fromEntries(store.keys().map((k) => [k, `${store.peek(k)?.info.etag ?? ''} ${store.peek(k)?.info.metadata[META.version] ?? '(no metadata)'}`]));
    }
    return out;
  }
}

export function v(physicalMs: number, logical = 0, producerId = 'producer-1'): Version {
  return { physicalMs, logical, producerId };
}

export function sha256(body: string | Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

/** Writes an object the way the consumer applies a put. */
export async function putObject(store: MemoryObjectStore, key: string, body: string, version: Version, extra: Record<string, string> = {}): Promise<void> {
  await store.put(objectKeyOf(DATASET, key), Buffer.from(body), {
    metadata: { ...extra, [META.version]: formatVersion(version), [META.sha256]: sha256(body), [META.eventId]: `event-${formatVersion(version)}` },
    contentType: 'application/octet-stream',
  });
}

/** Writes a tombstone and deletes the object, the way the consumer applies a delete. */
export async function deleteObject(store: MemoryObjectStore, key: string, version: Version, deletedAtMs = Date.now()): Promise<void> {
  await store.put(tombstoneKeyOf(DATASET, key), tombstoneBody(`event-${formatVersion(version)}`), {
    metadata: { [META.version]: formatVersion(version), [META.eventId]: `event-${formatVersion(version)}`, [META.deletedAtMs]: String(deletedAtMs) },
  });
  await store.delete(objectKeyOf(DATASET, key));
}

/** Writes the same object in several datacenters, as replication would. */
export async function putEverywhere(stores: MemoryStores, key: string, body: string, version: Version, datacenters: readonly string[] = DCS): Promise<void> {
  for (const dc of datacenters) await putObject(stores.of(dc), key, body, version);
}

/** Writes an object by hand: no shardsync metadata. */
export async function putByHand(store: MemoryObjectStore, key: string, body: string): Promise<void> {
  await store.put(objectKeyOf(DATASET, key), Buffer.from(body));
}

/** Flips a byte of a stored object without changing its ETag or metadata: bit rot. */
export function rot(store: MemoryObjectStore, key: string): void {
  const stored = store.peek(objectKeyOf(DATASET, key));
  if (stored === undefined || stored.data.length === 0) throw new Error(`nothing to rot at ${key}`);
  stored.data[0] = (stored.data[0] ?? 0) ^ 0xff;
}

/** The body stored under a dataset key, as text, or undefined. */
export function bodyOf(store: MemoryObjectStore, key: string): string | undefined {
  return store.peek(objectKeyOf(DATASET, key))?.data.toString();
}

export function versionOf(store: MemoryObjectStore, key: string): string | undefined {
  return store.peek(objectKeyOf(DATASET, key))?.info.metadata[META.version];
}

export function hasTombstone(store: MemoryObjectStore, key: string): boolean {
  return store.peek(tombstoneKeyOf(DATASET, key)) !== undefined;
}

/**
 * Stores whose operations can be interrupted once: `trigger.arm(dc, op, key, fn)` runs `fn` the
 * next time `dc` starts `op` on `key`, before the operation itself, e.g. to let a "consumer"
 * apply a newer version between the reconciler's read and its write.
 */
export class Trigger {
  readonly #armed: Array<{ dc: string; op: MemoryOperation; key: string; fn: () => Promise<void> }> = [];

  arm(dc: string, op: MemoryOperation, key: string, fn: () => Promise<void>): void {
    this.#armed.push({ dc, op, key, fn });
  }

  /** The `beforeOperation` hook for datacenter `dc`. */
  hook(dc: string): (op: MemoryOperation, key: string | undefined) => Promise<void> {
    return async (op, key) => {
      const i = this.#armed.findIndex((a) => a.dc === dc && a.op === op && a.key === key);
      const armed = this.#armed[i];
      if (armed === undefined) return;
      this.#armed.splice(i, 1);
      await armed.fn();
    };
  }

  get pending(): number {
    return this.#armed.length;
  }
}

/** Pass options over the memory stores; small trees keep the tests fast. */
export function passOptions(stores: MemoryStores, overrides: Partial<PassOptions> = {}): PassOptions {
  return { topology: testTopology([...stores.map.keys()]), stores, dataset: DATASET, leafBits: 8, ...overrides };
}
