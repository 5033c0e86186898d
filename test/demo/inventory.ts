import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { listObjects, mapLimit, rawS3Client, sha256OfObject, type StoreAddress } from './stores.js';
import { renderTable } from './table.js';
import { formatBytes } from './units.js';

/** What one datacenter's store holds for the given datasets, read byte by byte. */
export interface Inventory {
  readonly datacenter: string;
  /** Bucket key (`<dataset>/<key>`) -> SHA-256 of the bytes actually stored. */
  readonly objects: ReadonlyMap<string, string>;
  /** Bucket key -> size from the listing. */
  readonly sizes: ReadonlyMap<string, number>;
  readonly bytes: number;
  /** SHA-256 over the sorted `key sha256` lines: one value that is equal iff the contents are. */
  readonly digest: string;
}

const byUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** The digest of a dataset state: SHA-256 over `<key> <sha256>\n` lines in S3's (UTF-8 byte) key order. */
export function datasetDigest(objects: ReadonlyMap<string, string>): string {
  const hash = createHash('sha256');
  for (const key of [...objects.keys()].sort(byUtf8)) hash.update(`${key} ${objects.get(key) ?? ''}\n`);
  return hash.digest('hex');
}

/**
 * Lists the datasets in every datacenter and re-reads every object to hash it: the check does not
 * trust metadata, ETags or shardsync's own code, so a corrupted byte shows as a different digest.
 */
export async function takeInventories(datacenters: readonly StoreAddress[], datasets: readonly string[], concurrency = 8): Promise<Inventory[]> {
  return Promise.all(
    datacenters.map(async (dc) => {
      const client: S3Client = rawS3Client(dc, concurrency);
      try {
        const listed = [];
        for (const dataset of datasets) {
          for await (const o of listObjects(client, dc.s3.bucket, `${dataset}/`)) listed.push(o);
        }
        // An object deleted between the listing and its GET (a consumer still applying) counts as absent.
        const hashes = await mapLimit(listed, concurrency, (o) =>
          sha256OfObject(client, dc.s3.bucket, o.key).catch((err: unknown) => {
            if ((err as { name?: unknown }).name === 'NoSuchKey') return undefined;
            throw err;
          }),
        );
        const present = listed.filter((_, i) => hashes[i] !== undefined);
        const objects = new Map(listed.flatMap((o, i) => (hashes[i] === undefined ? [] : [[o.key, hashes[i]] as const])));
        return { datacenter: dc.name, objects, sizes: new Map(present.map((o) => [o.key, o.size])), bytes: present.reduce((s, o) => s + o.size, 0), digest: datasetDigest(objects) };
      } finally {
        client.destroy();
      }
    }),
  );
}

/** Keys whose presence or content differs between two states, for messages. */
export function describeDifferences(actual: ReadonlyMap<string, string>, expected: ReadonlyMap<string, string>, max = 5): string[] {
  const out: string[] = [];
  for (const [key, sha] of expected) {
    const got = actual.get(key);
    if (got === undefined) out.push(`missing ${key}`);
    else if (got !== sha) out.push(`different bytes ${key}`);
  }
  for (const key of actual.keys()) if (!expected.has(key)) out.push(`unexpected ${key}`);
  return out.length > max ? [...out.slice(0, max), `... ${out.length - max} more`] : out;
}

/** True when every datacenter holds exactly the expected state. */
export function converged(inventories: readonly Inventory[], expectedDigest: string): boolean {
  return inventories.length > 0 && inventories.every((i) => i.digest === expectedDigest);
}

/** The per-datacenter table: objects, bytes, digest, and whether it matches what the workload wrote. */
export function renderInventories(inventories: readonly Inventory[], expected: ReadonlyMap<string, string>): string {
  const expectedDigest = datasetDigest(expected);
  const rows = inventories.map((i) => [i.datacenter, i.objects.size, formatBytes(i.bytes), i.digest.slice(0, 16), i.digest === expectedDigest ? 'yes' : 'NO']);
  const table = renderTable(['DATACENTER', 'OBJECTS', 'BYTES', 'DIGEST (sha256 of key+sha256 lines)', 'AS WRITTEN'], rows);
  const notes = inventories
    .filter((i) => i.digest !== expectedDigest)
    .map((i) => `  ${i.datacenter}: ${describeDifferences(i.objects, expected).join('; ')}`);
  return [table, `expected: ${expected.size} objects, digest ${expectedDigest.slice(0, 16)}`, ...notes].join('\n');
}
