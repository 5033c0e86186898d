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
});
