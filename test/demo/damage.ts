import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { deleteObject, rawS3Client, type StoreAddress } from './stores.js';

/** What was done to a datacenter behind shardsync's back. */
export interface Damage {
  readonly datacenter: string;
  readonly deleted: string;
  readonly corrupted: string;
  readonly corruptedFile: string;
}

/**
 * Where the local s3proxy (filesystem backend) keeps an object's bytes: `<state>/s3/<dc>/<bucket>/<key>`
 * (see infra/S3PROXY_NOTES.md). Metadata and ETag live in extended attributes of that file.
 */
export function objectFile(stateDir: string, datacenter: string, bucket: string, key: string): string {
  return join(stateDir, 's3', datacenter, bucket, ...key.split('/'));
}

/** Flips 16 bytes in the middle of the file: the size, ETag and metadata stay as they were, as with bit rot. */
async function flipBytes(file: string): Promise<void> {
  const { size } = await stat(file);
  const handle = await open(file, 'r+');
  try {
    const at = Math.max(0, Math.floor(size / 2) - 8);
    const buf = Buffer.alloc(Math.min(16, size));
    await handle.read(buf, 0, buf.length, at);
    for (let i = 0; i < buf.length; i++) buf[i] = (buf[i] ?? 0) ^ 0xff;
    await handle.write(buf, 0, buf.length, at);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Damages one datacenter the way shardsync cannot see: deletes one object through the S3 API (an
 * operator's mistake) and corrupts the bytes of another on the S3 server's disk (bit rot). Picks
 * the largest object to corrupt and a small one to delete, both from `keys` (bucket keys).
 */
export async function damageDatacenter(stateDir: string, dc: StoreAddress, objects: ReadonlyMap<string, number>): Promise<Damage> {
  const bySize = [...objects.entries()].sort((a, b) => b[1] - a[1]);
  const corrupted = bySize[0]?.[0];
  const deleted = bySize.at(-1)?.[0];
  if (corrupted === undefined || deleted === undefined || corrupted === deleted) throw new Error(`${dc.name} holds too few objects to damage (${objects.size})`);
  const corruptedFile = objectFile(stateDir, dc.name, dc.s3.bucket, corrupted);
  await flipBytes(corruptedFile).catch((err: unknown) => {
    throw new Error(`cannot corrupt ${corrupted} on ${dc.name}'s disk at ${corruptedFile}: ${err instanceof Error ? err.message : String(err)}; is the S3 server the local s3proxy with a filesystem backend?`, { cause: err });
  });
  const client = rawS3Client(dc, 2);
  try {
    await deleteObject(client, dc.s3.bucket, deleted);
  } finally {
    client.destroy();
  }
  return { datacenter: dc.name, deleted, corrupted, corruptedFile };
}
