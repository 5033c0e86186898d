import { type IncomingHttpHeaders, request } from 'node:http';
import { onTestFinished } from 'vitest';
import type { Topology } from '@shardsync/config';
import type { Clock } from '@shardsync/events';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createTestBucket, freePort, rawS3Client, spawnService, waitFor, type SpawnedService } from '@shardsync/testing';
import { createLogger } from '@shardsync/runtime';
import { producerEnvSchema } from '../src/env.js';
import { ProducerService } from '../src/service.js';

export const TOKEN = 'test-token-0123456789abcdef';
export const OTHER_TOKEN = 'other-token-0123456789abcdef';

/** The test producer's environment: tokens for the test's datasets, small inline and body limits. */
function testProducerEnv(topology: Topology, overrides: Record<string, string>): Record<string, string> {
  const dataset = topology.datasets[0]?.name ?? 'none';
  return {
    SHARDSYNC_DATACENTER: 'dc-a',
    SHARDSYNC_PRODUCER_PORT: '0',
    SHARDSYNC_PRODUCER_TOKENS: `tests:${TOKEN}:*;other:${OTHER_TOKEN}:not-${dataset}`,
    SHARDSYNC_PRODUCER_INLINE_MAX_BYTES: String(4 * 1024),
    SHARDSYNC_PRODUCER_MAX_BODY_BYTES: String(64 * 1024 * 1024),
    ...overrides,
  };
}

/** Starts a producer in this process on a free port, closed when the test ends; `clock` is its wall clock. */
export async function startTestProducer(topology: Topology, overrides: Record<string, string> = {}, clock?: Clock): Promise<ProducerService> {
  const env = producerEnvSchema.parse(testProducerEnv(topology, overrides));
  const service = await ProducerService.start({ topology, env, logger: createLogger('producer-test', {}, 'warn'), clock });
  onTestFinished(() => service.close());
  return service;
}

/**
 * Starts the producer's entry point as a child process, killed when the test ends, and waits
 * until it answers: for what a client in the test's own event loop would not see (the timing of
 * a connection's close against the client's writes, say). Resolves with its base URL.
 */
export async function spawnTestProducer(topology: Topology, overrides: Record<string, string> = {}): Promise<string> {
  return (await spawnTestProducerProcess(topology, overrides)).url;
}

/** {@link spawnTestProducer}, resolving with the process too: for a signal and its exit. */
export async function spawnTestProducerProcess(topology: Topology, overrides: Record<string, string> = {}): Promise<SpawnedService & { url: string }> {
  const port = await freePort();
  const spawned = spawnService('producer', topology, testProducerEnv(topology, { SHARDSYNC_PRODUCER_PORT: String(port), SHARDSYNC_LOG_LEVEL: 'warn', ...overrides }));
  const url = `http://127.0.0.1:${port}`;
  const answering = waitFor(async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined), { timeoutMs: 60_000, what: 'the producer process to answer /healthz' });
  const died = spawned.exited.then((how) => {
    throw new Error(`the producer process exited (${String(how)}) before it answered /healthz`);
  });
  // Whichever loses the race settles later (the process ends when the test kills it): not unhandled.
  died.catch(() => undefined);
  answering.catch(() => undefined);
  await Promise.race([answering, died]);
  return { ...spawned, url };
}

export function auth(token = TOKEN): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/**
 * Sends a request with its path exactly as given: fetch() normalises `..` segments away before
 * sending, so keys that must be refused by the server would never reach it.
 */
export function rawRequest(baseUrl: string, method: string, path: string, headers: Record<string, string>, body: Buffer | string = ''): Promise<{ status: number; json: unknown; headers: IncomingHttpHeaders }> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as unknown, headers: res.headers });
        } catch (err) {
          reject(new Error(`not JSON (${res.statusCode}): ${text}`, { cause: err }));
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** An object a service wrote to a bucket of its own in dc-a (`out/a.bin`), as announcements name them. */
export async function serviceWrittenObject(): Promise<{ bucket: string; key: string; body: Buffer }> {
  const { bucket } = await createTestBucket('dc-a', 'svc');
  const body = Buffer.from('written by the service itself');
  const key = 'out/a.bin';
  await rawS3Client('dc-a').send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return { bucket, key, body };
}
