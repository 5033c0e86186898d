import { createHash } from 'node:crypto';
import { META } from '@shardsync/events';
import type { ObjectStore } from '@shardsync/objectstore';
import { retry } from '@shardsync/runtime';
import type { TokenBucket } from './budget.js';
import { codeOf } from './errors.js';
import type { DeepCheck } from './model.js';

/**
 * Re-reads one object's bytes (paced by `budget`) and compares their SHA-256 with the object's
 * own `shardsync-sha256` metadata: the only way to find bit rot, because ETags and metadata are
 * recorded at write time and a rotting disk does not update them.
 *
 * The GET is conditional on the listed ETag, so the bytes checked are the ones the listing
 * described. Returns undefined when the object was deleted or replaced since it was listed (a
 * consumer wrote it meanwhile): the drill-down then HEADs it like in a routine pass. Transient
 * store errors are retried a few times; other errors propagate.
 */
export async function deepCheck(
  store: ObjectStore,
  bucketKey: string,
  listedEtag: string,
  budget: TokenBucket | undefined,
  signal: AbortSignal | undefined,
): Promise<DeepCheck | undefined> {
  try {
    return await retry(() => readAndHash(store, bucketKey, listedEtag, budget, signal), { maxAttempts: 3, signal });
  } catch (err) {
    const code = codeOf(err);
    if (code === 'SHARDSYNC_OBJECT_NOT_FOUND' || code === 'SHARDSYNC_PRECONDITION_FAILED') return undefined;
    throw err;
  }
}

async function readAndHash(
  store: ObjectStore,
  bucketKey: string,
  listedEtag: string,
  budget: TokenBucket | undefined,
  signal: AbortSignal | undefined,
): Promise<DeepCheck> {
  const { info, body } = await store.get(bucketKey, { ifMatch: listedEtag, signal });
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      await budget?.take(chunk.byteLength, signal);
      hash.update(chunk);
      size += chunk.byteLength;
    }
  } finally {
    body.destroy();
  }
  const actualSha256 = hash.digest('hex');
  const recorded = info.metadata[META.sha256]?.toLowerCase();
  const integrity = recorded === undefined ? 'unverifiable' : recorded === actualSha256 && size === info.size ? 'ok' : 'corrupt';
  return {
    integrity,
    actualSha256,
    info: { etag: info.etag, size: info.size, lastModifiedMs: info.lastModified.getTime(), metadata: info.metadata, contentType: info.contentType },
  };
}
