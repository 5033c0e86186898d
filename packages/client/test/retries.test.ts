import { describe, expect, it } from 'vitest';
import type { RetryEvent, ShardsyncClient } from '../src/index.js';
import { ACCEPTED, startFakeProducer } from './fake-producer.js';
import { rejection } from './rejection.js';
import { clientFor, IN_PROGRESS, UNAVAILABLE } from './client-fixtures.js';

describe('ShardsyncClient retries', () => {
  it('503 and 409 in-progress are retried with the same Idempotency-Key until accepted', async () => {
    const fake = await startFakeProducer([UNAVAILABLE, IN_PROGRESS, { status: 202 }]);
    const retries: RetryEvent[] = [];
    const client = clientFor(fake.url, { onRetry: (e) => retries.push(e) });
    const accepted = await client.put('ds', 'k', 'body');
    expect(accepted).toEqual(ACCEPTED());
    expect(fake.requests).toHaveLength(3);
    const keys = new Set(fake.requests.map((r) => r.headers['idempotency-key']));
    expect(keys.size).toBe(1);
    expect(fake.requests.map((r) => r.body.toString())).toEqual(['body', 'body', 'body']);
    expect(retries.map((r) => [r.attempt, r.error.code])).toEqual([
      [1, 'SHARDSYNC_UNAVAILABLE'],
      [2, 'SHARDSYNC_IDEMPOTENCY_IN_PROGRESS'],
    ]);
    expect(retries.every((r) => r.idempotencyKey === [...keys][0])).toBe(true);
    await client.close();
  });

  it('an onRetry hook that throws is ignored: the call goes on retrying and ends with its own outcome', async () => {
    const fake = await startFakeProducer([UNAVAILABLE, { status: 202 }]);
    let calls = 0;
    const client = clientFor(fake.url, {
      onRetry: () => {
        calls += 1;
        throw new Error('logger broke');
      },
    });
    expect(await client.put('ds', 'k', 'body')).toEqual(ACCEPTED());
    expect(calls).toBe(1);
    expect(fake.requests).toHaveLength(2);
    await client.close();
  });

  it('an async onRetry hook that rejects is ignored too, not an unhandled rejection that would end the process', async () => {
    const fake = await startFakeProducer([UNAVAILABLE, { status: 202 }]);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const client = clientFor(fake.url, {
        // An async function is a valid `(event) => void` to TypeScript (only this lint rule objects).
        // eslint-disable-next-line @typescript-eslint/no-misused-promises
        onRetry: async () => {
          await Promise.resolve();
          throw new Error('metrics backend down');
        },
      });
      expect(await client.put('ds', 'k', 'body')).toEqual(ACCEPTED());
      await client.close();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a connection dropped before the answer is retried with the same key and the same bytes', async () => {
    // Each call's first request is read, then its connection cut without an answer.
    const fake = await startFakeProducer(['drop', { status: 202 }, 'drop', { status: 202 }]);
    const client = clientFor(fake.url);
    await client.delete('ds', 'k', { idempotencyKey: 'del-1' });
    await client.put('ds', 'k', Buffer.from('payload'));
    expect(fake.requests.map((r) => [r.method, r.headers['idempotency-key'], r.body.toString()])).toEqual([
      ['DELETE', 'del-1', ''],
      ['DELETE', 'del-1', ''],
      ['PUT', expect.stringMatching(/^[0-9a-f-]{36}$/), 'payload'],
      ['PUT', fake.requests[2]?.headers['idempotency-key'], 'payload'],
    ]);
    await client.close();
  });

  it('a producer that stays silent past idleTimeoutMs is a retriable timeout', async () => {
    const fake = await startFakeProducer(['hang', { status: 202 }]);
    const retries: RetryEvent[] = [];
    const client = clientFor(fake.url, { idleTimeoutMs: 200, onRetry: (e) => retries.push(e) });
    await client.put('ds', 'k', 'x');
    expect(retries[0]?.error.code).toBe('SHARDSYNC_CLIENT_TIMEOUT');
    expect(fake.requests).toHaveLength(2);
    expect(new Set(fake.requests.map((r) => r.headers['idempotency-key'])).size).toBe(1);
    await client.close();
  });

  it('retries stop after maxAttempts with the last error, still marked retriable, and its idempotency key', async () => {
    const fake = await startFakeProducer([UNAVAILABLE]);
    const client = clientFor(fake.url, { retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 } });
    const err = await rejection(client.put('ds', 'k', 'x'));
    expect(err).toMatchObject({ code: 'SHARDSYNC_UNAVAILABLE', status: 503, retriable: true, attempts: 3 });
    expect(err.idempotencyKey).toBe(fake.requests[0]?.headers['idempotency-key']);
    expect(fake.requests).toHaveLength(3);
    await client.close();
  });

  it('a proxy\'s 502 page is retried; maxAttempts 1 turns retries off', async () => {
    const fake = await startFakeProducer([{ status: 502, text: '<html>Bad Gateway</html>' }, { status: 502, text: '<html>Bad Gateway</html>' }, { status: 202 }]);
    const once = clientFor(fake.url, { retry: { maxAttempts: 1 } });
    const err = await rejection(once.delete('ds', 'k'));
    expect(err).toMatchObject({ code: 'SHARDSYNC_CLIENT_BAD_RESPONSE', status: 502, retriable: true, attempts: 1 });
    const client = clientFor(fake.url);
    await client.delete('ds', 'k');
    expect(fake.requests).toHaveLength(3);
    await Promise.all([once.close(), client.close()]);
  });

  it('aborting the signal cancels a pending retry', async () => {
    const fake = await startFakeProducer([UNAVAILABLE]);
    const controller = new AbortController();
    const client = clientFor(fake.url, { retry: { initialDelayMs: 60_000, maxDelayMs: 60_000 }, onRetry: () => controller.abort(new Error('caller gave up')) });
    const err = await rejection(client.put('ds', 'k', 'x', { signal: controller.signal }));
    expect(err.code).toBe('SHARDSYNC_CLIENT_ABORTED');
    expect(err.message).toContain('caller gave up');
    expect(fake.requests).toHaveLength(1);
    await client.close();
  });

  it('aborting the signal stops a request on the wire', async () => {
    const fake = await startFakeProducer(['hang']);
    const client = clientFor(fake.url);
    const controller = new AbortController();
    const call = client.put('ds', 'k', 'x', { signal: controller.signal });
    await expect.poll(() => fake.requests.length).toBe(1);
    controller.abort(new Error('shutting down'));
    const err = await rejection(call);
    expect(err).toMatchObject({ code: 'SHARDSYNC_CLIENT_ABORTED', retriable: false });
    await client.close();
  });

  it('a long-lived signal passed to every call (a service\'s shutdown signal) keeps nothing of the calls once they are settled', async () => {
    const fake = await startFakeProducer([{ status: 202 }]);
    const client = clientFor(fake.url);
    const shutdown = new AbortController();
    // The probe sees what AbortSignal.any keeps on this Node (else the check below could not fail).
    const probe = new AbortController();
    const combined = AbortSignal.any([probe.signal]);
    expect(dependantsOf(probe.signal), 'dependants of a signal given to AbortSignal.any').toBe(1);
    expect(combined.aborted).toBe(false);
    for (let i = 0; i < 50; i += 1) await client.put('ds', `k${i}`, 'x', { signal: shutdown.signal });
    // Node 20's AbortSignal.any keeps a WeakRef to each signal it makes in a set of every source,
    // never pruned: about 50 bytes per call, on the caller's signal and on the client's own.
    expect(dependantsOf(shutdown.signal)).toBe(0);
    await client.close();
  });

  it('close() cancels pending retries of calls in flight', async () => {
    const fake = await startFakeProducer([UNAVAILABLE]);
    let closing: Promise<void> | undefined;
    const client: ShardsyncClient = clientFor(fake.url, {
      retry: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
      onRetry: () => {
        closing = client.close();
      },
    });
    const err = await rejection(client.put('ds', 'k', 'x'));
    expect(err).toMatchObject({ code: 'SHARDSYNC_CLIENT_CLOSED', attempts: 1 });
    expect(err.message).toContain('Kafka is unavailable');
    await closing;
  });

  it('many calls waiting to retry at once raise no listener-leak warning', async () => {
    // Retry-After pins every wait to the full minute (the backoff alone is jittered down to 0).
    const fake = await startFakeProducer([{ ...UNAVAILABLE, headers: { 'retry-after': '60' } }]);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    let waiting = 0;
    const calls = 30;
    let closing: Promise<void> | undefined;
    const client: ShardsyncClient = clientFor(fake.url, {
      retry: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
      onRetry: () => {
        waiting += 1;
        // Every call is now asleep on the client's close signal; close() ends the waits.
        if (waiting === calls) {
          setImmediate(() => {
            closing = client.close();
          });
        }
      },
    });
    try {
      const errors = await Promise.all(Array.from({ length: calls }, (_, i) => rejection(client.put('ds', `k${i}`, 'x'))));
      expect(errors.map((e) => e.code)).toEqual(Array.from({ length: calls }, () => 'SHARDSYNC_CLIENT_CLOSED'));
      await closing;
      // Node emits process warnings on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

/** How many signals made by AbortSignal.any Node holds on `signal`'s behalf (its internal set; 0 without one). */
function dependantsOf(signal: AbortSignal): number {
  const symbol = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kDependantSignals');
  // A primordials SafeSet, not `instanceof Set`.
  const size = symbol === undefined ? undefined : (signal as unknown as Record<symbol, { size?: unknown } | undefined>)[symbol]?.size;
  return typeof size === 'number' ? size : 0;
}
