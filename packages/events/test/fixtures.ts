import { randomUUID } from 'node:crypto';
import { createHash } from 'node:crypto';
import { createInlinePayload, type DeleteShardUpdate, type PutShardUpdate, type Version } from '../src/index.js';

export const VERSION: Version = { physicalMs: 1_718_000_000_000, logical: 3, producerId: 'producer-east-1' };

/** A valid inline PUT; override any field to build an invalid one. */
export function makePut(overrides: Partial<PutShardUpdate> = {}): PutShardUpdate {
  const body = Buffer.from('tensor bytes '.repeat(20));
  return {
    eventId: randomUUID(),
    dataset: 'llama-70b',
    key: 'checkpoints/step-100/shard-00001.safetensors',
    operation: 'PUT',
    version: VERSION,
    size: body.length,
    sha256: createHash('sha256').update(body).digest('hex'),
    payload: createInlinePayload(body),
    originDatacenter: 'dc-east',
    producerId: 'producer-east-1',
    producedAtMs: 1_718_000_000_123,
    metadata: { 'content-type': 'application/octet-stream' },
    ...overrides,
  };
}

/** A valid DELETE. */
export function makeDelete(overrides: Partial<DeleteShardUpdate> = {}): DeleteShardUpdate {
  return {
    eventId: randomUUID(),
    dataset: 'llama-70b',
    key: 'checkpoints/step-100/shard-00001.safetensors',
    operation: 'DELETE',
    version: VERSION,
    size: 0,
    sha256: null,
    payload: null,
    originDatacenter: 'dc-west',
    producerId: 'producer-east-1',
    producedAtMs: 1_718_000_000_456,
    metadata: {},
    ...overrides,
  };
}
