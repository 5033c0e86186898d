import { randomBytes } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import type { Datacenter } from '@shardsync/config';
import { Kafka, logLevel } from 'kafkajs';
import { onTestFinished } from 'vitest';
import { compileStackOptions } from '../src/options.js';

/** The stack these tests use: the one of the default state dir and topology (or SHARDSYNC_* env). */
export const stackOptions = { log: () => undefined };

export function topology() {
  return compileStackOptions(stackOptions).topology;
}

export function datacenter(name: string): Datacenter {
  const dc = topology().datacenters.find((d) => d.name === name);
  if (dc === undefined) throw new Error(`datacenter ${name} is not in the topology`);
  return dc;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** An S3 client for a datacenter with the SDK's default settings (checksums included), destroyed after the test. */
export function s3For(dc: Datacenter): S3Client {
  const client = new S3Client({
    endpoint: dc.s3.endpoint,
    region: dc.s3.region,
    forcePathStyle: dc.s3.forcePathStyle,
    // Authorization is off in the local s3proxy: the SDK signs, the server does not check.
    credentials: { accessKeyId: 'shardsync-local', secretAccessKey: 'shardsync-local-unchecked' },
    maxAttempts: 1,
  });
  onTestFinished(() => client.destroy());
  return client;
}

export function kafka(): Kafka {
  return new Kafka({ clientId: uniqueName('infra-test'), brokers: topology().kafka.brokers, logLevel: logLevel.NOTHING });
}

/** Polls `condition` every 50 ms until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Polls an async `condition` every 100 ms until it holds; fails with `what` after `timeoutMs`. */
export async function waitUntil(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
