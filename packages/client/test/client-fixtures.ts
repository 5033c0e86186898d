import { once } from 'node:events';
import { createServer } from 'node:net';
import { expect } from 'vitest';
import { ShardsyncClient, type ShardsyncClientOptions } from '../src/index.js';
import type { FakeReply } from './fake-producer.js';

export const TOKEN = 'client-test-token-0123456789';
export const UNAVAILABLE = { status: 503, json: { error: 'SHARDSYNC_UNAVAILABLE', message: 'Kafka is unavailable, try again' } } satisfies FakeReply;
export const IN_PROGRESS = { status: 409, json: { error: 'SHARDSYNC_IDEMPOTENCY_IN_PROGRESS', message: 'still in progress; retry later' } } satisfies FakeReply;

/** A client of `url` that retries at once (1-5 ms backoff). */
export function clientFor(url: string, options: Partial<ShardsyncClientOptions> = {}): ShardsyncClient {
  return new ShardsyncClient({ baseUrl: url, token: TOKEN, retry: { initialDelayMs: 1, maxDelayMs: 5 }, ...options });
}

/** A port nothing listens on (yet). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Waits (briefly) until the server has seen `n` requests end. */
export async function waitForLength(list: readonly unknown[], n: number): Promise<void> {
  for (let i = 0; i < 200 && list.length < n; i += 1) await new Promise((r) => setTimeout(r, 10));
  expect(list).toHaveLength(n);
}
