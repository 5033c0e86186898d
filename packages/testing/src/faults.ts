import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { startServer, stopServer } from '@shardsync/infra';
import { onTestFinished } from 'vitest';
import { stackInfo } from './stack-info.js';

/**
 * Stops one server of the shared stack (`kafka`, `redis` or a datacenter such as `dc-b`) for a
 * fault test, and makes sure it runs again when the test ends, whatever the test did.
 * Returns a function that starts it again earlier.
 */
export async function stopStackServer(name: string): Promise<() => Promise<void>> {
  const { topologyPath, stateDir } = stackInfo();
  const options = { topologyPath, stateDir, log: () => undefined };
  await stopServer(name, options);
  let restarted = false;
  const restart = async () => {
    if (restarted) return;
    restarted = true;
    await startServer(name, options);
  };
  onTestFinished(restart);
  return restart;
}

/**
 * Where the local s3proxy (filesystem backend) keeps an object's bytes: tests corrupt them
 * there, behind the S3 API, the way a bad disk would.
 */
export function objectFilePath(datacenter: string, bucket: string, key: string): string {
  return join(stackInfo().stateDir, 's3', datacenter, bucket, ...key.split('/'));
}

/** Flips one byte of an object on the S3 server's disk; size and metadata stay as they were. */
export async function corruptObjectOnDisk(datacenter: string, bucket: string, key: string, offset = 0): Promise<void> {
  const file = await open(objectFilePath(datacenter, bucket, key), 'r+');
  try {
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, offset);
    byte[0] = (byte[0] ?? 0) ^ 0xff;
    await file.write(byte, 0, 1, offset);
  } finally {
    await file.close();
  }
}
