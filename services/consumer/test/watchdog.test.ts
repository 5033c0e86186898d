import { describe, expect, it } from 'vitest';
import { Watchdog } from '../src/watchdog.js';

/** A clock the test moves by hand. */
function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 0;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('Watchdog', () => {
  it('does not count the time before it started (joining the group, creating topics) as a stall', async () => {
    const c = clock();
    const stalls: number[] = [];
    const watchdog = new Watchdog({ stallMs: 60_000, pending: () => Promise.resolve(5), onStall: (idle) => stalls.push(idle), now: c.now, intervalMs: 3_600_000 });
    // A slow start: the join waited on another member's long batch.
    c.advance(90_000);
    watchdog.start();
    try {
      c.advance(12_000);
      await watchdog.check();
      expect(stalls).toEqual([]);
      expect(watchdog.stalled).toBe(false);
      c.advance(60_000);
      await watchdog.check();
      expect(stalls).toEqual([72_000]);
    } finally {
      watchdog.stop();
    }
  });

  it('a check still waiting for the lag when the watchdog is stopped (SIGTERM drain) does not fire', async () => {
    const c = clock();
    const stalls: number[] = [];
    let answer: (pending: number) => void = () => undefined;
    const watchdog = new Watchdog({ stallMs: 1000, pending: () => new Promise<number>((r) => (answer = r)), onStall: (idle) => stalls.push(idle), now: c.now, intervalMs: 3_600_000 });
    watchdog.start();
    c.advance(5000);
    const checking = watchdog.check();
    watchdog.stop();
    answer(3);
    await checking;
    expect(stalls).toEqual([]);
    expect(watchdog.stalled).toBe(false);
  });

  it('progress made while a check waits for the lag is not a stall', async () => {
    const c = clock();
    const stalls: number[] = [];
    let answer: (pending: number) => void = () => undefined;
    const watchdog = new Watchdog({ stallMs: 1000, pending: () => new Promise<number>((r) => (answer = r)), onStall: (idle) => stalls.push(idle), now: c.now, intervalMs: 3_600_000 });
    watchdog.start();
    try {
      c.advance(1500);
      const checking = watchdog.check();
      // The lag read retries while the group coordinator moves; a batch finishes meanwhile.
      c.advance(500);
      watchdog.progress();
      answer(3);
      await checking;
      expect(stalls).toEqual([]);
      expect(watchdog.stalled).toBe(false);
    } finally {
      watchdog.stop();
    }
  });

  it('a stall ends when no event waits any more (the partitions went to another member), though this one made no progress', async () => {
    const c = clock();
    let pending = 4;
    let recovered = 0;
    const watchdog = new Watchdog({ stallMs: 1000, pending: () => Promise.resolve(pending), onStall: () => undefined, onRecover: () => (recovered += 1), now: c.now, intervalMs: 3_600_000 });
    watchdog.start();
    try {
      c.advance(1500);
      await watchdog.check();
      expect(watchdog.stalled).toBe(true);
      pending = 0;
      c.advance(1500);
      await watchdog.check();
      expect(watchdog.stalled).toBe(false);
      expect(recovered).toBe(1);
    } finally {
      watchdog.stop();
    }
  });
});
