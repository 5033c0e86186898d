import { describe, expect, it } from 'vitest';
import {
  ClockDriftError,
  compareVersions,
  DEFAULT_MAX_CLOCK_DRIFT_MS,
  HybridLogicalClock,
  InvalidVersionError,
  MAX_LOGICAL,
  type Clock,
  type PhysicalTimeLease,
  type Version,
} from '../src/index.js';

/** A clock the test moves by hand. */
class ManualClock implements Clock {
  constructor(public ms: number) {}
  now(): number {
    return this.ms;
  }
}

const T0 = 1_718_000_000_000;

function clockAt(ms = T0, producerId = 'producer-b', maxDriftMs?: number): { clock: ManualClock; hlc: HybridLogicalClock } {
  const clock = new ManualClock(ms);
  return { clock, hlc: new HybridLogicalClock({ producerId, clock, ...(maxDriftMs === undefined ? {} : { maxDriftMs }) }) };
}

function expectIncreasing(versions: readonly Version[]): void {
  for (let i = 1; i < versions.length; i++) {
    expect(compareVersions(versions[i] as Version, versions[i - 1] as Version)).toBe(1);
  }
}

describe('HybridLogicalClock', () => {
  it('follows the wall clock and resets the counter when time moves on', () => {
    const { clock, hlc } = clockAt();
    expect(hlc.tick()).toEqual({ physicalMs: T0, logical: 0, producerId: 'producer-b' });
    clock.ms += 5;
    expect(hlc.tick()).toEqual({ physicalMs: T0 + 5, logical: 0, producerId: 'producer-b' });
  });

  it('counts up within one millisecond so many updates still get increasing versions', () => {
    const { hlc } = clockAt();
    const versions = Array.from({ length: 100 }, () => hlc.tick());
    expectIncreasing(versions);
    expect(versions.at(-1)).toMatchObject({ physicalMs: T0, logical: 99 });
  });

  it('holds physical time when the wall clock steps backwards, so versions never go back', () => {
    const { clock, hlc } = clockAt();
    const before = hlc.tick();
    clock.ms -= 10_000;
    const after = [hlc.tick(), hlc.tick()];
    expectIncreasing([before, ...after]);
    expect(after[1]).toMatchObject({ physicalMs: T0, logical: 2 });
  });

  it('issues a version above one it observed, even when its own clock is behind', () => {
    const { hlc } = clockAt(T0);
    const remote: Version = { physicalMs: T0 + 30_000, logical: 7, producerId: 'producer-z' };
    hlc.observe(remote);
    const next = hlc.tick();
    expect(compareVersions(next, remote)).toBe(1);
    expect(next).toEqual({ physicalMs: T0 + 30_000, logical: 8, producerId: 'producer-b' });
  });

  it('beats an observed version with the same time and counter from a producer that sorts later', () => {
    const { hlc } = clockAt(T0);
    const remote: Version = { physicalMs: T0, logical: 0, producerId: 'producer-z' };
    hlc.observe(remote);
    expect(compareVersions(hlc.tickAfter(undefined), remote)).toBe(1);
  });

  it('ignores an observed version older than its own state', () => {
    const { hlc } = clockAt(T0);
    const mine = hlc.tick();
    hlc.observe({ physicalMs: T0 - 1_000, logical: 50, producerId: 'producer-a' });
    expect(hlc.last).toEqual(mine);
  });

  it('tickAfter(seen) issues the version for overwriting a key whose stored version is seen', () => {
    const { hlc } = clockAt(T0);
    const stored: Version = { physicalMs: T0 + 1_000, logical: 0, producerId: 'producer-a' };
    expect(compareVersions(hlc.tickAfter(stored), stored)).toBe(1);
  });

  it(`refuses a version more than the max drift (default ${DEFAULT_MAX_CLOCK_DRIFT_MS} ms) ahead, leaving its state alone`, () => {
    const { hlc } = clockAt(T0);
    const mine = hlc.tick();
    const skewed: Version = { physicalMs: T0 + DEFAULT_MAX_CLOCK_DRIFT_MS + 1, logical: 0, producerId: 'producer-fast' };
    expect(() => hlc.observe(skewed)).toThrow(ClockDriftError);
    expect(() => hlc.observe(skewed)).toThrow(/60001 ms ahead .* check NTP/);
    expect(hlc.last).toEqual(mine);
    expect(() => hlc.observe({ ...skewed, physicalMs: T0 + DEFAULT_MAX_CLOCK_DRIFT_MS })).not.toThrow();
  });

  it('applies a configured max drift', () => {
    const { hlc } = clockAt(T0, 'producer-b', 100);
    expect(() => hlc.observe({ physicalMs: T0 + 101, logical: 0, producerId: 'p' })).toThrow(ClockDriftError);
    const error = (() => {
      try {
        hlc.observe({ physicalMs: T0 + 500, logical: 0, producerId: 'p' });
      } catch (err) {
        return err as ClockDriftError;
      }
      return undefined;
    })();
    expect(error).toMatchObject({ code: 'SHARDSYNC_CLOCK_DRIFT', aheadByMs: 500, retriable: false });
  });

  it('borrows a millisecond rather than overflowing the Avro int counter', () => {
    const { hlc } = clockAt(T0);
    hlc.observe({ physicalMs: T0, logical: MAX_LOGICAL, producerId: 'producer-a' });
    expect(hlc.tick()).toEqual({ physicalMs: T0 + 1, logical: 0, producerId: 'producer-b' });
  });

  it('refuses producer ids that would not sort the same as bytes', () => {
    expect(() => new HybridLogicalClock({ producerId: 'prodücer' })).toThrow(InvalidVersionError);
    expect(() => new HybridLogicalClock({ producerId: '' })).toThrow(/producerId/);
  });

  it('reports no last version before the first tick', () => {
    expect(clockAt().hlc.last).toBeUndefined();
  });

  describe('with a lease', () => {
    /** A lease whose bound the test sets: it admits physical times up to `boundMs`. */
    function leaseUpTo(boundMs: number, previousBoundMs?: number): PhysicalTimeLease & { boundMs: number } {
      return {
        boundMs,
        previousBoundMs,
        admit(physicalMs) {
          if (physicalMs > this.boundMs) throw new Error(`${physicalMs} is past the lease`);
        },
      };
    }

    it("starts above the bound the previous run persisted, even when the wall clock is behind it", () => {
      const clock = new ManualClock(T0 - 3_600_000);
      const hlc = new HybridLogicalClock({ producerId: 'producer-b', clock, lease: leaseUpTo(T0 + 20_000, T0 + 10_000) });
      const versions = [hlc.tick(), hlc.tick()];
      expect(versions[0]).toEqual({ physicalMs: T0 + 10_001, logical: 0, producerId: 'producer-b' });
      expectIncreasing(versions);
    });

    it('issues nothing the lease refuses and is left as it was, so the next admitted tick continues from the last version', () => {
      const clock = new ManualClock(T0);
      const lease = leaseUpTo(T0 + 5);
      const hlc = new HybridLogicalClock({ producerId: 'producer-b', clock, lease });
      const last = hlc.tick();
      clock.ms = T0 + 6;
      expect(() => hlc.tick()).toThrow(/past the lease/);
      expect(hlc.last).toEqual(last);
      lease.boundMs = T0 + 100;
      expect(hlc.tick()).toEqual({ physicalMs: T0 + 6, logical: 0, producerId: 'producer-b' });
    });
  });
});
