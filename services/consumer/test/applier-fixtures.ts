import { createInlinePayload, type PutShardUpdate, type ShardUpdate, type Version } from '@shardsync/events';
import { sha256Hex } from '@shardsync/integrity';
import type { MemoryObjectStore } from '@shardsync/objectstore';

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
