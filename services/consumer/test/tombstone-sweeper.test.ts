import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '@shardsync/runtime';
import { tombstoneSweepIntervalMs } from '../src/env.js';
import type { SweepResult } from '../src/state/tombstone-index.js';
import { TombstoneSweeper } from '../src/state/tombstone-sweeper.js';

const INTERVAL = 1000;
const DONE: SweepResult = { expired: 2, rewritten: 0, failed: 0 };

/** An index whose sweeps end only when the test says so. */
function heldIndex() {
  const calls: Array<{ signal: AbortSignal | undefined; finish: (r: SweepResult | undefined) => void; fail: (err: Error) => void }> = [];
  const index = {
    sweep: (_nowMs?: number, signal?: AbortSignal) =>
      new Promise<SweepResult | undefined>((resolve, reject) => {
        calls.push({ signal, finish: resolve, fail: reject });
      }),
  };
  return { index, calls };
}

function sweeperOver(index: ReturnType<typeof heldIndex>['index'], onSwept?: (r: SweepResult) => void): TombstoneSweeper {
  return new TombstoneSweeper({ index, intervalMs: INTERVAL, logger: createLogger('test', {}, 'silent'), onSwept });
}

describe('TombstoneSweeper', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sweeps once per interval and never starts a sweep while one runs', async () => {
    const { index, calls } = heldIndex();
    const swept: SweepResult[] = [];
    const sweeper = sweeperOver(index, (r) => swept.push(r));
    sweeper.start();
    await vi.advanceTimersByTimeAsync(INTERVAL - 1);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(1);
    // A slow sweep: many intervals pass, and no second one starts.
    await vi.advanceTimersByTimeAsync(10 * INTERVAL);
    expect(calls).toHaveLength(1);
    calls[0]?.finish(DONE);
    await vi.advanceTimersByTimeAsync(INTERVAL - 1);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    expect(swept).toEqual([DONE]);
    calls[1]?.finish(undefined); // skipped: a reload was running
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(calls).toHaveLength(3);
    expect(swept).toEqual([DONE]);
    calls[2]?.finish(DONE);
    await sweeper.stop();
  });

  it('a failed sweep does not end the sweeping: the next interval sweeps again', async () => {
    const { index, calls } = heldIndex();
    const sweeper = sweeperOver(index);
    sweeper.start();
    await vi.advanceTimersByTimeAsync(INTERVAL);
    calls[0]?.fail(new Error('store down'));
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(calls).toHaveLength(2);
    calls[1]?.finish(DONE);
    await sweeper.stop();
  });

  it('stop() aborts the sweep in flight, resolves once it has ended, schedules nothing more, and is idempotent', async () => {
    const { index, calls } = heldIndex();
    const sweeper = sweeperOver(index);
    sweeper.start();
    await vi.advanceTimersByTimeAsync(INTERVAL);
    const signal = calls[0]?.signal;
    let stopped = false;
    const stopping = sweeper.stop().then(() => (stopped = true));
    expect(sweeper.stop()).toBe(sweeper.stop());
    expect(signal?.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    calls[0]?.fail(new Error('aborted'));
    await stopping;
    await vi.advanceTimersByTimeAsync(10 * INTERVAL);
    expect(calls).toHaveLength(1);
    sweeper.start();
    await vi.advanceTimersByTimeAsync(10 * INTERVAL);
    expect(calls).toHaveLength(1);
  });

  it('stop() before the first sweep cancels it', async () => {
    const { index, calls } = heldIndex();
    const sweeper = sweeperOver(index);
    sweeper.start();
    await sweeper.stop();
    await vi.advanceTimersByTimeAsync(10 * INTERVAL);
    expect(calls).toHaveLength(0);
  });
});

describe('tombstoneSweepIntervalMs', () => {
  const HOUR = 3600_000;

  it('defaults to a quarter of the grace period, at most an hour and at least a second', () => {
    expect(tombstoneSweepIntervalMs({ SHARDSYNC_TOMBSTONE_GRACE_MS: 7 * 24 * HOUR, SHARDSYNC_TOMBSTONE_SWEEP_INTERVAL_MS: undefined })).toBe(HOUR);
    expect(tombstoneSweepIntervalMs({ SHARDSYNC_TOMBSTONE_GRACE_MS: 2 * HOUR, SHARDSYNC_TOMBSTONE_SWEEP_INTERVAL_MS: undefined })).toBe(HOUR / 2);
    expect(tombstoneSweepIntervalMs({ SHARDSYNC_TOMBSTONE_GRACE_MS: 2000, SHARDSYNC_TOMBSTONE_SWEEP_INTERVAL_MS: undefined })).toBe(1000);
  });

  it('uses the configured interval when there is one', () => {
    expect(tombstoneSweepIntervalMs({ SHARDSYNC_TOMBSTONE_GRACE_MS: 7 * 24 * HOUR, SHARDSYNC_TOMBSTONE_SWEEP_INTERVAL_MS: 5000 })).toBe(5000);
  });
});
