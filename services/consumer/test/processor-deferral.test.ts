import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { readDeadLetter, type EventSink, type OutgoingEvent } from '@shardsync/eventlog';
import { createLogger } from '@shardsync/runtime';
import { ApplyError } from '../src/apply/errors.js';
import { applied, at, deliverUntilDone, event, fakeBatch, handleFor, processor, put, unavailable } from './processor-fixtures.js';

/** Updates that must wait longer than a batch should hold its partition: paused, fetched again, never lost or done twice. */
describe('BatchProcessor, updates that wait across fetches', () => {
  it('an update that keeps failing gives its partition back after a few retries instead of holding the batch, and the keys after it are not applied twice', async () => {
    vi.useFakeTimers();
    onTestFinished(() => void vi.useRealTimers());
    const calls = new Map<string, number>();
    const p = processor(async (u) => {
      const n = (calls.get(u.key) ?? 0) + 1;
      calls.set(u.key, n);
      if (u.key === 'slow' && n <= 6) throw new ApplyError('SHARDSYNC_SOURCE_UNAVAILABLE', 'the staged copy is not readable yet', { retriable: true });
      return applied;
    }, [], createLogger('test', {}, 'silent'), { sourceWaitMs: 600_000 });
    const events = [event(put('slow', 1)), event(put('a', 1)), event(put('b', 1))];
    const first = fakeBatch(events);
    const handled = p.handle(first);
    await vi.advanceTimersByTimeAsync(2000); // the retries inside the batch (at most 1.4 s)
    await handled;
    // The other keys are done, the waiting one is not: nothing can be marked past it.
    expect(Object.fromEntries(calls)).toEqual({ slow: 4, a: 1, b: 1 });
    expect(first.marked).toEqual([]);
    expect(first.pauses).toHaveLength(1);
    expect(first.pauses[0]).toBeLessThanOrEqual(15_000);

    const rest = deliverUntilDone(p, events);
    await vi.advanceTimersByTimeAsync(first.pauses[0] ?? 0);
    await vi.advanceTimersByTimeAsync(120_000);
    const { batches } = await rest;
    expect(batches).toBeGreaterThanOrEqual(2);
    expect(Object.fromEntries(calls)).toEqual({ slow: 7, a: 1, b: 1 });
  });

  it('the wait for a source counts across the batches that fetch the waiting update again', async () => {
    vi.useFakeTimers();
    onTestFinished(() => void vi.useRealTimers());
    const letters: OutgoingEvent[] = [];
    let calls = 0;
    let letteredAt: number | undefined;
    const p = processor(
      async () => {
        calls += 1;
        throw new ApplyError('SHARDSYNC_SOURCE_UNAVAILABLE', 'the staged copy is not readable', { retriable: true });
      },
      letters,
      createLogger('test', {}, 'silent'),
      { sourceWaitMs: 30_000, onProgress: () => void (letteredAt ??= letters.length > 0 ? Date.now() : undefined) },
    );
    const started = Date.now();
    const done = deliverUntilDone(p, [event(put('k', 1))]);
    await vi.advanceTimersByTimeAsync(300_000);
    const { batches } = await done;
    expect(letters.map((l) => readDeadLetter(l.headers ?? {})?.code)).toEqual(['SHARDSYNC_SOURCE_UNAVAILABLE']);
    expect(batches).toBeGreaterThan(1);
    // Dead-lettered at the first attempt after the wait: not restarted by every batch.
    expect((letteredAt ?? Infinity) - started).toBeLessThan(30_000 + 15_000 + 1000);
    expect(calls).toBeGreaterThan(4);
  });

  it('a source that turns from unreadable to mismatching gets the whole mismatch wait, not what is left of the unreadable one', async () => {
    vi.useFakeTimers();
    onTestFinished(() => void vi.useRealTimers());
    const letters: OutgoingEvent[] = [];
    const started = Date.now();
    let letteredAt: number | undefined;
    // Unreadable for the first 120 s, then readable with the wrong bytes (e.g. a copy being replaced).
    const p = processor(
      async () => {
        if (Date.now() - started < 120_000) throw unavailable();
        throw new ApplyError('SHARDSYNC_SOURCE_BYTES_MISMATCH', 'the staged copy does not hash to the event', { retriable: true });
      },
      letters,
      createLogger('test', {}, 'silent'),
      { sourceWaitMs: 600_000, sourceMismatchWaitMs: 60_000, onProgress: () => void (letteredAt ??= letters.length > 0 ? Date.now() : undefined) },
    );
    const done = deliverUntilDone(p, [event(put('k', 1))]);
    await vi.advanceTimersByTimeAsync(600_000);
    await done;
    expect(letters.map((l) => readDeadLetter(l.headers ?? {})?.code)).toEqual(['SHARDSYNC_SOURCE_BYTES_MISMATCH']);
    // At least the 60 s of mismatches after the 120 s unreadable (the bug: 122 s), and not much more
    // (one paused fetch, up to 15 s, and a backoff).
    expect((letteredAt ?? 0) - started).toBeGreaterThanOrEqual(180_000);
    expect((letteredAt ?? Infinity) - started).toBeLessThan(180_000 + 30_000);
  });

  it('many keys waiting on one source that is down are each tried at their own backoff, not at every fetch of their partition', async () => {
    vi.useFakeTimers();
    onTestFinished(() => void vi.useRealTimers());
    const calls = new Map<string, number>();
    const p = processor(
      async (u) => {
        calls.set(u.key, (calls.get(u.key) ?? 0) + 1);
        throw new ApplyError('SHARDSYNC_SOURCE_UNAVAILABLE', 'the staged copy is not readable yet', { retriable: true });
      },
      [],
      createLogger('test', {}, 'silent'),
      { concurrency: 16, sourceWaitMs: 3600_000 },
    );
    const events = Array.from({ length: 100 }, (_, i) => at(i, put(`k${i}`, 1)));
    const started = Date.now();
    let fetches = 0;
    // Kafka: fetches the same events again (none is ever marked done) once each pause is over.
    const run = (async () => {
      while (Date.now() - started < 60_000) {
        const batch = fakeBatch(events);
        await p.handle(batch);
        fetches += 1;
        const [pause] = batch.pauses;
        if (pause === undefined) throw new Error('returned without pausing');
        expect(pause).toBeGreaterThanOrEqual(1000);
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    })();
    await vi.advanceTimersByTimeAsync(80_000);
    await run;
    const perKey = [...calls.values()].reduce((a, b) => a + b, 0) / 100;
    // Full-jitter backoff from 200 ms doubling to 15 s: about 4 attempts in the first 1.4 s, then
    // one per 7.5 s on average, about 14 a minute (365 when every fetch tried every key).
    expect(perKey).toBeLessThan(30);
    expect(fetches).toBeLessThanOrEqual(61);
  });

  it('after the topic was created again (same offsets, other events), no event is skipped as finished and none inherits an old retry state', async () => {
    vi.useFakeTimers();
    onTestFinished(() => void vi.useRealTimers());
    const letters: OutgoingEvent[] = [];
    const seen: string[] = [];
    let freshFailures = 0;
    const p = processor(
      async (u) => {
        seen.push(u.key);
        if (u.key === 'slow') throw new ApplyError('SHARDSYNC_SOURCE_UNAVAILABLE', 'not readable yet', { retriable: true });
        if (u.key === 'fresh-1' && freshFailures++ === 0) throw new ApplyError('SHARDSYNC_SOURCE_UNAVAILABLE', 'not readable yet', { retriable: true });
        return applied;
      },
      letters,
      createLogger('test', {}, 'silent'),
      { sourceWaitMs: 60_000 },
    );
    // The old topic: offset 1 waits, 2 and 3 are applied beyond it.
    const old = fakeBatch([at(0, put('old-0', 1)), at(1, put('slow', 1)), at(2, put('old-2', 1)), at(3, put('old-3', 1))]);
    await handleFor(p, old);
    expect(old.pauses).toHaveLength(1);
    // Kafka lost and the topic created again (docs/runbooks/kafka-unavailable.md): the same
    // process fetches the new topic from offset 0, 90 s later.
    await vi.advanceTimersByTimeAsync(90_000);
    seen.length = 0;
    const fresh = fakeBatch([at(0, put('fresh-0', 5)), at(1, put('fresh-1', 5)), at(2, put('fresh-2', 5)), at(3, put('fresh-3', 5))]);
    await handleFor(p, fresh);
    expect(letters).toEqual([]); // fresh-1 failed once: a retry, not the old event's expired source wait
    expect([...new Set(seen)].sort()).toEqual(['fresh-0', 'fresh-1', 'fresh-2', 'fresh-3']);
    expect(fresh.marked.at(-1)).toBe('3');
  });

  it('events finished beyond a waiting one are neither applied nor dead-lettered again when a later fetch returns fewer events', async () => {
    vi.useFakeTimers();
    onTestFinished(() => void vi.useRealTimers());
    const letters: OutgoingEvent[] = [];
    const seen: string[] = [];
    let slowCalls = 0;
    const p = processor(
      async (u) => {
        seen.push(u.key);
        if (u.key === 'slow' && ++slowCalls <= 4) throw new ApplyError('SHARDSYNC_SOURCE_UNAVAILABLE', 'not readable yet', { retriable: true });
        return applied;
      },
      letters,
      createLogger('test', {}, 'silent'),
      { sourceWaitMs: 3600_000 },
    );
    const events = [at(10, put('slow', 1)), at(11, Buffer.from('garbage')), at(12, put('a', 1))];
    const first = fakeBatch(events);
    await handleFor(p, first);
    expect(first.pauses).toHaveLength(1);
    expect(letters).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(first.pauses[0] ?? 0);
    // The next fetch from offset 10 returns only offset 10 (a fetch cut by its total size while
    // many partitions have a backlog): the waiting event applies, nothing pauses.
    const second = fakeBatch(events.slice(0, 1));
    await p.handle(second);
    expect(second.marked).toEqual(['10']);
    expect(second.pauses).toEqual([]);
    const third = fakeBatch(events.slice(1));
    await p.handle(third);
    expect(third.marked.at(-1)).toBe('12');
    expect(letters).toHaveLength(1);
    expect(seen.filter((k) => k === 'a')).toHaveLength(1);
  });

  it('a waiting update beyond the end of a fetch that returned fewer events keeps its source wait, and is dead-lettered when it runs out', async () => {
    vi.useFakeTimers();
    onTestFinished(() => void vi.useRealTimers());
    const letteredAt = new Map<string, number>();
    const deadLetters: EventSink = {
      append: async (_t, evs) => {
        for (const l of evs) letteredAt.set(readDeadLetter(l.headers ?? {})?.originalOffset ?? '?', Date.now());
      },
      ping: async () => undefined,
      close: async () => undefined,
    };
    const p = processor(async () => { throw unavailable(); }, [], createLogger('test', {}, 'silent'), { sourceWaitMs: 30_000, deadLetters });
    const events = [at(10, put('a', 1)), at(11, put('b', 1))];
    const started = Date.now();
    // Kafka: every other fetch is cut short (fetch maxBytes shared by many partitions with a backlog).
    const run = (async () => {
      let remaining = events;
      for (let fetch = 0; remaining.length > 0 && Date.now() - started < 200_000; fetch += 1) {
        const batch = fakeBatch(fetch % 2 === 1 ? remaining.slice(0, 1) : remaining);
        await p.handle(batch);
        const last = batch.marked.at(-1);
        if (last !== undefined) remaining = remaining.filter((e) => BigInt(e.offset) > BigInt(last));
        await new Promise((resolve) => setTimeout(resolve, batch.pauses[0] ?? 0));
      }
    })();
    await vi.advanceTimersByTimeAsync(220_000);
    await run;
    // b failed from t=0 on, like a: dead-lettered at its first attempt after 30 s (attempts <= 15 s apart).
    expect((letteredAt.get('10') ?? Infinity) - started).toBeLessThan(30_000 + 15_000 + 2000);
    expect((letteredAt.get('11') ?? Infinity) - started).toBeLessThan(30_000 + 15_000 + 2000);
  });

  it('a waiting update beyond the end of a shorter fetch keeps its backoff: the next fetch does not retry it at once, three times over', async () => {
    vi.useFakeTimers();
    onTestFinished(() => void vi.useRealTimers());
    const calls = new Map<string, number>();
    const p = processor(async (u) => {
      calls.set(u.key, (calls.get(u.key) ?? 0) + 1);
      throw unavailable();
    }, [], createLogger('test', {}, 'silent'), { sourceWaitMs: 3600_000 });
    const events = [at(10, put('a', 1)), at(11, put('b', 1))];
    const first = fakeBatch(events);
    await handleFor(p, first);
    expect(first.pauses).toHaveLength(1);
    expect(calls.get('b')).toBe(4);
    await vi.advanceTimersByTimeAsync(first.pauses[0] ?? 0);
    await p.handle(fakeBatch(events.slice(0, 1))); // cut short: only offset 10
    const before = calls.get('b') ?? 0;
    const third = fakeBatch(events);
    await handleFor(p, third);
    // With its state kept, b (attempt 4, backoff carried) is tried at most once in this fetch.
    expect((calls.get('b') ?? 0) - before).toBeLessThanOrEqual(1);
  });

  it('a waiting update that a rebalance kept its batch from starting keeps its retry state', async () => {
    vi.useFakeTimers();
    onTestFinished(() => void vi.useRealTimers());
    const calls = new Map<string, number>();
    const p = processor(async (u) => {
      calls.set(u.key, (calls.get(u.key) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 50));
      throw unavailable();
    }, [], createLogger('test', {}, 'silent'), { sourceWaitMs: 3600_000, concurrency: 1, heartbeatMs: 5 });
    const events = [at(10, put('a', 1)), at(11, put('b', 1))];
    const first = fakeBatch(events);
    await handleFor(p, first, 5000);
    expect(calls.get('b')).toBe(4);
    await vi.advanceTimersByTimeAsync(16_000); // both due
    const second = fakeBatch(events);
    second.heartbeat = () => Promise.reject(Object.assign(new Error('rebalancing'), { type: 'REBALANCE_IN_PROGRESS' }));
    await handleFor(p, second, 1000);
    const before = calls.get('b') ?? 0; // b was not started in the second batch
    const third = fakeBatch(events); // rejoined with the same assignment
    await handleFor(p, third, 5000);
    expect((calls.get('b') ?? 0) - before).toBeLessThanOrEqual(1);
  });

  it('a commit refused at the end of a batch that left updates waiting loses nothing: no dead letter goes twice', async () => {
    const { p, letters, events } = waitingThenGarbage(3600_000);
    const first = fakeBatch(events);
    first.commit = () => Promise.reject(Object.assign(new Error('The group is rebalancing'), { type: 'REBALANCE_IN_PROGRESS' }));
    const h1 = p.handle(first).catch(() => 'threw');
    await vi.advanceTimersByTimeAsync(3000);
    expect(await h1).toBe('threw');
    expect(letters).toHaveLength(1);
    // kafkajs rejoins, same assignment, fetches again from offset 10.
    await vi.advanceTimersByTimeAsync(16_000);
    const second = fakeBatch(events);
    await handleFor(p, second);
    expect(letters).toHaveLength(1);
  });

  it('a partition not fetched for half an hour (Kafka unreachable) keeps what its last batch left: no dead letter goes twice', async () => {
    const { p, letters, events } = waitingThenGarbage(3 * 3600_000);
    const first = fakeBatch(events);
    await handleFor(p, first);
    expect(letters).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(31 * 60_000);
    const second = fakeBatch(events);
    await handleFor(p, second);
    expect(letters).toHaveLength(1);
  });

  it('a newer version of a waiting key in the next fetch is applied at once, not held by the older one\'s backoff, and both finish', async () => {
    vi.useFakeTimers();
    onTestFinished(() => void vi.useRealTimers());
    const seen: number[] = [];
    const p = processor(async (u) => {
      seen.push(u.version.physicalMs);
      if (u.version.physicalMs === 1) throw unavailable();
      return applied;
    }, [], createLogger('test', {}, 'silent'), { sourceWaitMs: 3600_000 });
    const first = fakeBatch([at(10, put('k', 1))]);
    await handleFor(p, first);
    expect(first.pauses).toHaveLength(1);
    const second = fakeBatch([at(10, put('k', 1)), at(11, put('k', 2))]);
    await p.handle(second); // no time passed: v1 is not due
    expect(seen.at(-1)).toBe(2);
    expect(second.marked.at(-1)).toBe('11');
    expect(second.pauses).toEqual([]);
  });

  it('a lower version fetched alone while its higher version waits beyond the fetch is written and committed, not held, and the higher one wins when it applies', async () => {
    vi.useFakeTimers();
    onTestFinished(() => void vi.useRealTimers());
    const stored = new Map<string, number>();
    let v2Failures = 0;
    const p = processor(async (u) => {
      if (u.version.physicalMs === 2 && v2Failures++ < 4) throw unavailable();
      stored.set(u.key, Math.max(stored.get(u.key) ?? 0, u.version.physicalMs));
      return applied;
    }, [], createLogger('test', {}, 'silent'), { sourceWaitMs: 3600_000 });
    const events = [at(10, put('k', 1)), at(11, put('k', 2))];
    const first = fakeBatch(events);
    await handleFor(p, first);
    expect(first.marked).toEqual([]);
    await vi.advanceTimersByTimeAsync(first.pauses[0] ?? 0);
    const cut = fakeBatch(events.slice(0, 1)); // a fetch that returned fewer events
    await p.handle(cut);
    expect(cut.marked).toEqual(['10']);
    expect(stored.get('k')).toBe(1);
    await vi.advanceTimersByTimeAsync(16_000);
    const rest = fakeBatch(events.slice(1));
    await p.handle(rest);
    expect(rest.marked).toEqual(['11']);
    expect(stored.get('k')).toBe(2);
  });
});

/**
 * Under fake timers: an update that waits for its source (up to `sourceWaitMs`), then garbage
 * that is dead-lettered at once; `letters` collects the dead letters.
 */
function waitingThenGarbage(sourceWaitMs: number) {
  vi.useFakeTimers();
  onTestFinished(() => void vi.useRealTimers());
  const letters: OutgoingEvent[] = [];
  const p = processor(async (u) => {
    if (u.key === 'slow') throw unavailable();
    return applied;
  }, letters, createLogger('test', {}, 'silent'), { sourceWaitMs });
  return { p, letters, events: [at(10, put('slow', 1)), at(11, Buffer.from('garbage'))] };
}
