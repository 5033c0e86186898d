import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '@shardsync/runtime';
import { MemoryIdempotencyStore } from '../src/idempotency/memory-store.js';
import type { IdempotentResult } from '../src/idempotency/store.js';
import { CLAIM_REFRESH_MS, Idempotency } from '../src/ingest/idempotency.js';
import type { Accepted } from '../src/ingest/types.js';

/** The in-memory store, whose first `failures` complete() calls fail as a Redis blip would. */
class FlakyCompleteStore extends MemoryIdempotencyStore {
  failures: number;
  completeCalls = 0;

  constructor(failures: number) {
    super();
    this.failures = failures;
  }

  override async complete(scope: string, key: string, result: IdempotentResult): Promise<void> {
    this.completeCalls += 1;
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error('Connection is closed.');
    }
    await super.complete(scope, key, result);
  }
}

const accepted: Accepted = { eventId: 'e-1', dataset: 'ds', key: 'k', version: 'v1', sha256: null, size: 0 };
const fast = { maxAttempts: 4, initialDelayMs: 1, maxDelayMs: 5 };

function setup(failures: number) {
  const store = new FlakyCompleteStore(failures);
  const logger = createLogger('test', {}, 'silent');
  const errors = vi.spyOn(logger, 'error');
  const idempotency = new Idempotency(store, 60_000, logger, fast);
  let emitted = 0;
  const run = () =>
    idempotency.run('tests', 'request-1', 'PUT ds/k', async () => {
      emitted += 1;
      return accepted;
    });
  return { store, idempotency, errors, run, emitted: () => emitted };
}

describe('Idempotency', () => {
  it('an answer whose first recording attempts fail is recorded by a later one, so a retry gets it and emits nothing', async () => {
    const { store, idempotency, errors, run, emitted } = setup(2);
    expect(await run()).toEqual(accepted);
    // Answering did not wait for the recording: it failed once and is waiting to try again.
    expect(store.completeCalls).toBe(1);
    await idempotency.close();
    expect(store.completeCalls).toBe(3);
    expect(await run()).toEqual(accepted);
    expect(emitted()).toBe(1);
    expect(errors).not.toHaveBeenCalled();
  });

  it('an answer that cannot be recorded at all is logged as an error, and the request still succeeds', async () => {
    const { store, idempotency, errors, run } = setup(Infinity);
    expect(await run()).toEqual(accepted);
    await idempotency.close();
    expect(store.completeCalls).toBe(fast.maxAttempts);
    expect(errors).toHaveBeenCalledTimes(1);
    await expect(run()).rejects.toMatchObject({ code: 'SHARDSYNC_IDEMPOTENCY_IN_PROGRESS', status: 409 });
  });

  it('a request running longer than a claim lives keeps extending its claim until it ends', async () => {
    vi.useFakeTimers();
    try {
      const store = new MemoryIdempotencyStore();
      const extend = vi.spyOn(store, 'extend');
      const idempotency = new Idempotency(store, 60_000, createLogger('test', {}, 'silent'), fast);
      let finish = (): void => undefined;
      const running = idempotency.run('tests', 'long-upload', 'PUT ds/big', async () => {
        await new Promise<void>((resolve) => (finish = resolve));
        return accepted;
      });
      await vi.advanceTimersByTimeAsync(3.5 * CLAIM_REFRESH_MS);
      expect(extend).toHaveBeenCalledTimes(3);
      expect(extend).toHaveBeenCalledWith('tests', 'long-upload');
      finish();
      expect(await running).toEqual(accepted);
      await vi.advanceTimersByTimeAsync(5 * CLAIM_REFRESH_MS);
      expect(extend).toHaveBeenCalledTimes(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
