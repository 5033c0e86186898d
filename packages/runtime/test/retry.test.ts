import { describe, expect, it } from 'vitest';
import { backoffDelay, retry, sleep } from '../src/retry.js';

const retriableError = Object.assign(new Error('store down'), { retriable: true });
const fatalError = Object.assign(new Error('bad input'), { retriable: false });

describe('retry', () => {
  it('retries a retriable error until it succeeds', async () => {
    let calls = 0;
    const result = await retry(
      async () => {
        calls += 1;
        if (calls < 3) throw retriableError;
        return 'ok';
      },
      { initialDelayMs: 1, random: () => 0.5 },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
  });

  it('does not retry an error that is not retriable', async () => {
    let calls = 0;
    await expect(
      retry(async () => {
        calls += 1;
        throw fatalError;
      }),
    ).rejects.toBe(fatalError);
    expect(calls).toBe(1);
  });

  it('gives up after maxAttempts with the last error', async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls += 1;
          throw retriableError;
        },
        { maxAttempts: 3, initialDelayMs: 1 },
      ),
    ).rejects.toBe(retriableError);
    expect(calls).toBe(3);
  });

  it('an abort cancels the pending wait', async () => {
    const controller = new AbortController();
    const pending = retry(
      async () => {
        throw retriableError;
      },
      {
        maxAttempts: Infinity,
        initialDelayMs: 60_000,
        random: () => 0.99,
        signal: controller.signal,
        onRetry: () => setImmediate(() => controller.abort(new Error('closing'))),
      },
    );
    await expect(pending).rejects.toThrow('closing');
  });

  it('backoff grows exponentially up to the cap, scaled by jitter', () => {
    expect(backoffDelay(1, 100, 10_000, () => 0.999)).toBe(99);
    expect(backoffDelay(4, 100, 10_000, () => 0.999)).toBe(799);
    expect(backoffDelay(20, 100, 10_000, () => 0.999)).toBe(9990);
    expect(backoffDelay(20, 100, 10_000, () => 0)).toBe(0);
  });

  it('backoff stays a finite number after more than a thousand attempts, also with no initial delay', () => {
    // 2 ** 1024 is Infinity, and 0 * Infinity is NaN: a retry with maxAttempts Infinity would be handed a NaN delay.
    expect(backoffDelay(1100, 0, 10_000, () => 0.5)).toBe(0);
    expect(backoffDelay(1100, 100, 10_000, () => 0.5)).toBe(5000);
  });
});

describe('sleep', () => {
  it('waits for a delay beyond the 2^31-1 ms a single timer can hold instead of resolving at once', async () => {
    const controller = new AbortController();
    const settled = sleep(2 ** 31, controller.signal).then(
      () => 'resolved',
      () => 'aborted',
    );
    await new Promise((r) => setTimeout(r, 100));
    controller.abort(new Error('test over'));
    expect(await settled).toBe('aborted');
  });
});
