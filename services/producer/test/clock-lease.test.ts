import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { clockLeaseKeyOf, compareVersions, HybridLogicalClock, type Clock, type Version } from '@shardsync/events';
import type { Readable } from 'node:stream';
import { DelegatingStore, MemoryObjectStore, StoreUnavailableError, type PutOptions, type PutResult } from '@shardsync/objectstore';
import { createLogger } from '@shardsync/runtime';
import { ClockLease, DEFAULT_CLOCK_LEASE_RETRY_MS } from '../src/clock/lease.js';
import { ObjectLeaseStore } from '../src/clock/object-lease-store.js';
import { ClockLeaseError } from '../src/errors.js';

const T0 = 1_718_000_000_000;
const WINDOW_MS = 10_000;
const PRODUCER = 'producer-0';
const LEASE_KEY = clockLeaseKeyOf(PRODUCER);
const logger = createLogger('test', {}, 'silent');
/** The wall clock, driven by the fake timers. */
const wallClock: Clock = { now: () => Date.now() };

beforeEach(() => {
  // Only timers and Date: the memory store's bodies are streams, which need the real nextTick.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: T0 });
});
afterEach(() => {
  vi.useRealTimers();
});

/** The bound as stored, read without going through the store's hooks or faults. */
function storedBound(store: MemoryObjectStore): number {
  const stored = store.peek(LEASE_KEY);
  if (stored === undefined) throw new Error('no lease stored');
  return (JSON.parse(stored.data.toString('utf8')) as { boundMs: number }).boundMs;
}

/** One run of a producer: its lease acquired from `store`, and its clock within it. */
async function startRun(store: MemoryObjectStore): Promise<{ lease: ClockLease; hlc: HybridLogicalClock }> {
  const lease = await ClockLease.acquire({ store: new ObjectLeaseStore(store, PRODUCER), clock: wallClock, logger, windowMs: WINDOW_MS });
  onTestFinished(() => lease.close());
  return { lease, hlc: new HybridLogicalClock({ producerId: PRODUCER, clock: wallClock, lease }) };
}

describe('ClockLease', () => {
  it('a restarted producer whose wall clock was set back an hour still issues versions above every version of its previous run', async () => {
    const store = new MemoryObjectStore();
    const before = await startRun(store);
    const issued: Version[] = [];
    for (let i = 0; i < 50; i++) {
      issued.push(before.hlc.tick());
      await vi.advanceTimersByTimeAsync(200);
    }
    await before.lease.close();

    vi.setSystemTime(T0 - 3_600_000);
    const after = await startRun(store);
    expect(after.lease.previousBoundMs).toBe(before.lease.boundMs);
    const first = after.hlc.tick();
    for (const v of issued) expect(compareVersions(first, v)).toBe(1);
    expect(first.physicalMs).toBe(before.lease.boundMs + 1);
    // And the new run's bound is persisted above its own versions before they are issued.
    expect(storedBound(store)).toBeGreaterThanOrEqual(first.physicalMs);
  });

  it('a second process started with the same producer id takes the lease over: the first refuses every version from its next renewal on, and all its versions are below the second\'s', async () => {
    const store = new MemoryObjectStore();
    const first = await startRun(store);
    const fromFirst: Version[] = [first.hlc.tick()];
    const second = await startRun(store);
    const fromSecond: Version[] = [second.hlc.tick()];
    // The first keeps ticking within its bound until it renews (after half a window at most).
    for (let i = 0; i < 10; i++) {
      await vi.advanceTimersByTimeAsync(WINDOW_MS / 10);
      try {
        fromFirst.push(first.hlc.tick());
      } catch (err) {
        expect(err).toMatchObject({ code: 'SHARDSYNC_CLOCK_LEASE_LOST', retriable: false });
      }
      fromSecond.push(second.hlc.tick());
    }
    expect(() => first.hlc.tick()).toThrow(/another process runs with SHARDSYNC_PRODUCER_ID "producer-0"/);
    await expect(first.lease.check()).rejects.toBeInstanceOf(ClockLeaseError);
    await expect(second.lease.check()).resolves.toBeUndefined();
    for (const a of fromFirst) for (const b of fromSecond) expect(compareVersions(a, b)).toBe(-1);
    // The second renewed its lease meanwhile and keeps it.
    expect(storedBound(store)).toBe(second.lease.boundMs);
  });

  it('of two processes starting at once with the same producer id, the one that writes second does not start', async () => {
    const store = new MemoryObjectStore();
    const a = new ObjectLeaseStore(store, PRODUCER);
    const b = new ObjectLeaseStore(store, PRODUCER);
    expect(await a.read()).toBeUndefined();
    expect(await b.read()).toBeUndefined();
    await a.write(T0 + WINDOW_MS);
    await expect(b.write(T0 + WINDOW_MS)).rejects.toMatchObject({ code: 'SHARDSYNC_CLOCK_LEASE_LOST' });
  });

  it('never issues a physical time above the persisted bound: a tick past it is refused until the renewal it starts is durable', async () => {
    let openWrites: () => void = () => undefined;
    let gate = Promise.resolve();
    const store = new MemoryObjectStore({ beforeOperation: (op) => (op === 'put' ? gate : undefined) });
    const { lease, hlc } = await startRun(store);
    const firstBound = storedBound(store);
    gate = new Promise((resolve) => {
      openWrites = resolve;
    });
    // Should an assertion fail first, the lease's close must not wait for the gate forever.
    onTestFinished(() => openWrites());

    // The wall clock jumps past the bound before the background renewal ran.
    vi.setSystemTime(T0 + 60_000);
    expect(() => hlc.tick()).toThrow(ClockLeaseError);
    expect(() => hlc.tick()).toThrow(/reached its lease .* renewing it/);
    expect(hlc.last).toBeUndefined();
    expect(storedBound(store)).toBe(firstBound);

    openWrites();
    await lease.whenRenewed();
    const version = hlc.tick();
    expect(version.physicalMs).toBe(T0 + 60_000);
    expect(storedBound(store)).toBeGreaterThanOrEqual(version.physicalMs);
  });

  it('renews the bound in the background, so an idle producer can tick at once and a busy one never waits', async () => {
    const store = new MemoryObjectStore();
    const { lease, hlc } = await startRun(store);

    await vi.advanceTimersByTimeAsync(60_000);
    expect(storedBound(store)).toBeGreaterThan(Date.now() + WINDOW_MS / 2 - 1);
    expect(hlc.tick().physicalMs).toBe(T0 + 60_000);

    for (let i = 0; i < 300; i++) {
      await vi.advanceTimersByTimeAsync(100);
      const version = hlc.tick();
      expect(version.physicalMs).toBeLessThanOrEqual(storedBound(store));
    }
    expect(lease.boundMs).toBe(storedBound(store));
  });

  it('once a lease write failed, ticks are refused with a retriable error when the persisted bound is reached, readiness says why, and both recover when the store answers', async () => {
    const store = new MemoryObjectStore();
    const { lease, hlc } = await startRun(store);
    const bound = storedBound(store);
    const removeFault = store.injectFault({ operation: 'put', key: LEASE_KEY, error: () => new StoreUnavailableError('S3 is down'), times: Infinity });

    await vi.advanceTimersByTimeAsync(WINDOW_MS / 2 + 1);
    await expect(lease.check()).rejects.toThrow(/cannot persist its clock lease at memory:memory\/\.shardsync\/producers\/producer-0\/clock \(S3 is down\)/);
    vi.setSystemTime(bound);
    const last = hlc.tick();
    expect(last.physicalMs).toBe(bound);

    vi.setSystemTime(bound + 1);
    let refusal: unknown;
    try {
      hlc.tick();
    } catch (err) {
      refusal = err;
    }
    expect(refusal).toBeInstanceOf(ClockLeaseError);
    expect(refusal).toMatchObject({ code: 'SHARDSYNC_CLOCK_LEASE_UNAVAILABLE', retriable: true });
    expect((refusal as Error).message).toMatch(/issues no version after .*: one above the persisted bound could be issued again after a restart/);
    expect(hlc.last).toEqual(last);
    expect(storedBound(store)).toBe(bound);

    removeFault();
    await vi.advanceTimersByTimeAsync(DEFAULT_CLOCK_LEASE_RETRY_MS);
    await expect(lease.check()).resolves.toBeUndefined();
    expect(hlc.tick().physicalMs).toBe(bound + 1 + DEFAULT_CLOCK_LEASE_RETRY_MS);
  });

  it('refuses to start from a lease it cannot read, saying where it is and what to do', async () => {
    const store = new MemoryObjectStore();
    await store.put(LEASE_KEY, Buffer.from('not json'));
    const acquiring = ClockLease.acquire({ store: new ObjectLeaseStore(store, PRODUCER), clock: wallClock, logger });
    await expect(acquiring).rejects.toMatchObject({ code: 'SHARDSYNC_CLOCK_LEASE_UNREADABLE', retriable: false });
    await expect(acquiring).rejects.toThrow(/\.shardsync\/producers\/producer-0\/clock is not a lease record/);
  });

  it('a lease write that landed but whose reply was lost (a timeout, a reset the SDK retried) is not taken for another process: the lease is kept and renewed', async () => {
    const store = new MemoryObjectStore();
    /** Applies the next lease write, then fails as if its reply never came back. */
    const replyLost = { next: false };
    const flaky = new (class extends DelegatingStore {
      override async put(key: string, body: Readable | Uint8Array, options?: PutOptions): Promise<PutResult> {
        const result = await super.put(key, body, options);
        if (key === LEASE_KEY && replyLost.next) {
          replyLost.next = false;
          throw new StoreUnavailableError('PutObject timed out');
        }
        return result;
      }
    })(store);
    const lease = await ClockLease.acquire({ store: new ObjectLeaseStore(flaky, PRODUCER), clock: wallClock, logger, windowMs: WINDOW_MS });
    onTestFinished(() => lease.close());
    const hlc = new HybridLogicalClock({ producerId: PRODUCER, clock: wallClock, lease });

    replyLost.next = true;
    await vi.advanceTimersByTimeAsync(WINDOW_MS / 2 + 1);
    // The write failed as far as the producer knows; it retries after the retry delay.
    await vi.advanceTimersByTimeAsync(DEFAULT_CLOCK_LEASE_RETRY_MS * 3);
    await expect(lease.check()).resolves.toBeUndefined();
    for (let i = 0; i < 30; i++) {
      await vi.advanceTimersByTimeAsync(1000);
      expect(hlc.tick().physicalMs).toBe(Date.now());
    }
    expect(storedBound(store)).toBe(lease.boundMs);
    // A second process still takes it over, and this one then learns that it lost it.
    await startRun(store);
    await vi.advanceTimersByTimeAsync(WINDOW_MS);
    await expect(lease.check()).rejects.toMatchObject({ code: 'SHARDSYNC_CLOCK_LEASE_LOST' });
  });
});
