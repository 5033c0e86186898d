import { createInlinePayload, type PutShardUpdate, type ShardUpdate, type Version } from '@shardsync/events';
import { sha256Hex } from '@shardsync/integrity';
import { MemoryObjectStore } from '@shardsync/objectstore';
import { Applier } from '../src/apply/applier.js';
import { TransferSlots } from '../src/apply/transfer-slots.js';
import { LocalState } from '../src/state/local-state.js';
import { TombstoneIndex } from '../src/state/tombstone-index.js';

/** Updates of dataset `ds` as a producer in dc-a emits them, and reading a memory store back, for the applier's tests. */
export const v = (physicalMs: number, producerId = 'p1'): Version => ({ physicalMs, logical: 0, producerId });

export function put(key: string, version: Version, body: string): PutShardUpdate {
  return {
    eventId: `e-${key}-${version.physicalMs}`,
    dataset: 'ds',
    key,
    operation: 'PUT',
    version,
    size: Buffer.byteLength(body),
    sha256: sha256Hex(body),
    payload: createInlinePayload(Buffer.from(body)),
    originDatacenter: 'dc-a',
    producerId: version.producerId,
    producedAtMs: 0,
    metadata: {},
  };
}

export function del(key: string, version: Version): ShardUpdate {
  return { eventId: `d-${key}-${version.physicalMs}`, dataset: 'ds', key, operation: 'DELETE', version, size: 0, sha256: null, payload: null, originDatacenter: 'dc-a', producerId: version.producerId, producedAtMs: 0, metadata: {} };
}

export async function body(store: MemoryObjectStore, key: string): Promise<string | undefined> {
  const info = await store.head(key);
  if (info === undefined) return undefined;
  const { body: stream } = await store.get(key);
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

/** An applier for dc-b over an in-memory store, reading referenced payloads from `stores` (by datacenter). */
export function applierSetup(stores: Record<string, MemoryObjectStore> = {}) {
  const local = new MemoryObjectStore({ datacenter: 'dc-b', bucket: 'b' });
  const tombstones = new TombstoneIndex(local, 60_000);
  const state = new LocalState(local, tombstones, 1000);
  const applier = new Applier({
    local,
    state,
    tombstones,
    storeFor: (dc) => {
      const s = stores[dc];
      if (s === undefined) throw new Error(`no store ${dc}`);
      return s;
    },
    peersOf: () => Object.values(stores).map((s) => ({ datacenter: s.datacenter, bucket: s.bucket })),
    onBytes: () => undefined,
    slots: new TransferSlots(4),
  });
  return { local, tombstones, state, applier };
}
