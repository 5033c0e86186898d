import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { parseTopology } from '@shardsync/config';
import { DLQ_HEADERS, EventLogError, readDeadLetter, type ConsumedEvent, type EventSink, type OutgoingEvent, type PartitionBatch } from '@shardsync/eventlog';
import { bundledSchemaRegistry, createInlinePayload, encodeShardUpdate, type ShardUpdate } from '@shardsync/events';
import { sha256Hex } from '@shardsync/integrity';
import { createLogger, type Logger } from '@shardsync/runtime';
import type { ApplyOutcome } from '../src/apply/applier.js';
import { ApplyError, LocalBucketMissingError } from '../src/apply/errors.js';
import { BatchProcessor, type ProcessorDeps } from '../src/batch/processor.js';
import { ConsumerMetrics } from '../src/metrics.js';

const topology = parseTopology(
  `
kafka: { brokers: ["127.0.0.1:1"] }
redis: { url: "redis://127.0.0.1:1" }
datacenters:
  - { name: dc-a, s3: { endpoint: "http://127.0.0.1:1", region: r, bucket: bucket-a } }
  - { name: dc-b, s3: { endpoint: "http://127.0.0.1:2", region: r, bucket: bucket-b } }
datasets:
  - { name: ds, datacenters: [dc-a, dc-b] }
  - { name: only-a, datacenters: [dc-a] }
`,
  { env: {} },
);

let offset = 0;
function event(update: ShardUpdate | Buffer): ConsumedEvent {
  const encoded = Buffer.isBuffer(update) ? { value: update, headers: {} } : encodeShardUpdate(update);
  const o = String(offset++);
  return { topic: 'shardsync.updates', partition: 0, offset: o, key: null, value: encoded.value, headers: encoded.headers, timestampMs: 0 };
}

/** An event at an explicit offset (a refetch, or a topic created again). */
function at(offsetOf: number, update: ShardUpdate | Buffer): ConsumedEvent {
  return { ...event(update), offset: String(offsetOf) };
}

function put(key: string, physicalMs: number, dataset = 'ds'): ShardUpdate {
  const body = `${key}@${physicalMs}`;
  return {
    eventId: `00000000-0000-4000-8000-${String(physicalMs).padStart(12, '0')}`,
    dataset,
    key,
    operation: 'PUT',
    version: { physicalMs, logical: 0, producerId: 'p' },
    size: body.length,
    sha256: sha256Hex(body),
    payload: createInlinePayload(Buffer.from(body)),
    originDatacenter: 'dc-a',
    producerId: 'p',
    producedAtMs: 0,
    metadata: {},
  };
}

function fakeBatch(events: ConsumedEvent[]): PartitionBatch & { marked: string[]; commits: number; pauses: number[] } {
  const marked: string[] = [];
  const pauses: number[] = [];
  const batch = {
    topic: 'shardsync.updates',
    partition: 0,
    events,
    highWatermark: String(Number(events.at(-1)?.offset ?? 0) + 1),
    marked,
    pauses,
    commits: 0,
    markDone: (o: string) => marked.push(o),
    commit: async () => {
      batch.commits += 1;
    },
    heartbeat: async () => undefined,
    isActive: () => true,
    fence: () => ({ held: () => true }),
    pauseFor: (ms: number) => void pauses.push(ms),
  };
  return batch;
}

/**
 * Hands `events` to the processor as Kafka does: after a batch that paused its partition, the
 * events from the first one not marked done, once the pause is over. Works with fake timers.
 */
async function deliverUntilDone(p: BatchProcessor, events: ConsumedEvent[]): Promise<{ batches: number; pauses: number[] }> {
  let remaining = events;
  const pauses: number[] = [];
  let batches = 0;
  while (remaining.length > 0) {
    const batch = fakeBatch(remaining);
    await p.handle(batch);
    batches += 1;
    const last = batch.marked.at(-1);
    if (last !== undefined) remaining = remaining.filter((e) => BigInt(e.offset) > BigInt(last));
    const [pause] = batch.pauses;
    if (pause === undefined) break;
    pauses.push(pause);
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
  if (remaining.length > 0) throw new Error(`a batch returned with ${remaining.length} event(s) neither done nor paused for`);
  return { batches, pauses };
}

function processor(
  apply: (u: ShardUpdate) => Promise<ApplyOutcome>,
  letters: OutgoingEvent[] = [],
  logger: Logger = createLogger('test', {}, 'silent'),
  overrides: Partial<ProcessorDeps> = {},
): BatchProcessor {
  const sink: EventSink = {
    append: async (_topic, events) => {
      letters.push(...events);
    },
    ping: async () => undefined,
    close: async () => undefined,
  };
  return new BatchProcessor({
    datacenter: 'dc-b',
    topology,
    registry: bundledSchemaRegistry(),
    applier: { apply },
    deadLetters: sink,
    metrics: new ConsumerMetrics(),
    logger,
    concurrency: 4,
    sourceWaitMs: 1000,
    sourceMismatchWaitMs: 1000,
    onProgress: () => undefined,
    signal: new AbortController().signal,
    ...overrides,
  });
}

const applied: ApplyOutcome = { result: 'applied', operation: 'PUT', bytes: 1, mode: 'inline' };

describe('BatchProcessor', () => {
  it('updates of one key in a batch collapse to the highest version before any I/O', async () => {
    const seen: number[] = [];
    const batch = fakeBatch([event(put('k', 3)), event(put('k', 9)), event(put('k', 5))]);
    await processor(async (u) => {
      seen.push(u.version.physicalMs);
      return applied;
    }).handle(batch);
    expect(seen).toEqual([9]);
    expect(batch.marked.at(-1)).toBe(batch.events.at(-1)?.offset);
    expect(batch.commits).toBe(1);
  });

  it('an offset is marked done only once everything before it is done, even when keys finish out of order', async () => {
    let releaseSlow!: () => void;
    const slow = new Promise<void>((r) => (releaseSlow = r));
    const events = [event(put('slow', 1)), event(put('fast-1', 2)), event(put('fast-2', 3))];
    const batch = fakeBatch(events);
    const done = processor(async (u) => {
      if (u.key === 'slow') await slow;
      return applied;
    }).handle(batch);
    await new Promise((r) => setTimeout(r, 20));
    expect(batch.marked).toEqual([]);
    releaseSlow();
    await done;
    expect(batch.marked).toEqual([events[2]?.offset]);
  });

  it('undecodable bytes are dead-lettered with their origin and the batch goes on', async () => {
    const letters: OutgoingEvent[] = [];
    const seen: string[] = [];
    const batch = fakeBatch([event(Buffer.from('garbage')), event(put('after', 1))]);
    await processor(async (u) => {
      seen.push(u.key);
      return applied;
    }, letters).handle(batch);
    expect(seen).toEqual(['after']);
    expect(letters).toHaveLength(1);
    expect(readDeadLetter(letters[0]?.headers ?? {})).toMatchObject({ datacenter: 'dc-b', code: 'SHARDSYNC_UNDECODABLE_EVENT', originalOffset: batch.events[0]?.offset });
    expect(batch.marked.at(-1)).toBe(batch.events[1]?.offset);
  });

  it('a dead letter Kafka refuses for its size goes again without the original value, and a refused dead-letter topic is waited for, never a crash', async () => {
    const sent: OutgoingEvent[] = [];
    const refusals = [
      new EventLogError('SHARDSYNC_EVENTLOG_REJECTED', 'appending events: too large', { retriable: false, cause: { type: 'MESSAGE_TOO_LARGE' } }),
      new EventLogError('SHARDSYNC_EVENTLOG_TOPIC_MISSING', 'appending events: the topic does not exist', { retriable: false }),
    ];
    const progress = vi.fn();
    const deadLetters: EventSink = {
      append: async (_topic, events) => {
        const refusal = refusals.shift();
        if (refusal !== undefined) throw refusal;
        sent.push(...events);
      },
      ping: async () => undefined,
      close: async () => undefined,
    };
    const batch = fakeBatch([event(Buffer.from('garbage')), event(put('after', 1))]);
    await processor(async () => applied, [], createLogger('test', {}, 'silent'), { deadLetters, onProgress: progress }).handle(batch);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.value).toHaveLength(0);
    expect(sent[0]?.headers?.[DLQ_HEADERS.valueDropped]).toBe(String('garbage'.length));
    expect(readDeadLetter(sent[0]?.headers ?? {})).toMatchObject({ code: 'SHARDSYNC_UNDECODABLE_EVENT', originalOffset: batch.events[0]?.offset });
    expect(progress.mock.calls.length).toBeGreaterThanOrEqual(2); // each refusal told the watchdog the partition is alive
    expect(batch.marked.at(-1)).toBe(batch.events[1]?.offset);
  });

  it('a dataset this datacenter does not hold is skipped without touching the store', async () => {
    const seen: string[] = [];
    await processor(async (u) => {
      seen.push(u.key);
      return applied;
    }).handle(fakeBatch([event(put('x', 1, 'only-a'))]));
    expect(seen).toEqual([]);
  });

  it('when the highest version can never apply it is dead-lettered and the next highest is applied', async () => {
    const letters: OutgoingEvent[] = [];
    const seen: number[] = [];
    await processor(async (u) => {
      seen.push(u.version.physicalMs);
      if (u.version.physicalMs === 9) throw new ApplyError('SHARDSYNC_DIGEST_MISMATCH_ALL_SOURCES', 'bad bytes everywhere', { retriable: false });
      return applied;
    }, letters).handle(fakeBatch([event(put('k', 3)), event(put('k', 9))]));
    expect(seen).toEqual([9, 3]);
    expect(letters.map((l) => readDeadLetter(l.headers ?? {})?.code)).toEqual(['SHARDSYNC_DIGEST_MISMATCH_ALL_SOURCES']);
  });

  it('a retriable failure is retried until it succeeds; the partition waits rather than skipping', async () => {
    let calls = 0;
    const batch = fakeBatch([event(put('k', 1))]);
    await processor(async () => {
      calls += 1;
      if (calls < 3) throw Object.assign(new Error('store 503'), { retriable: true, code: 'SHARDSYNC_STORE_UNAVAILABLE' });
      return applied;
    }).handle(batch);
    expect(calls).toBe(3);
    expect(batch.marked).toEqual([batch.events[0]?.offset]);
  });

  it('every retry tells the watchdog the partition is alive, so waiting on a source or a store is not taken for a stall', async () => {
    let calls = 0;
    let progress = 0;
    await processor(
      async () => {
        calls += 1;
        if (calls < 3) throw new ApplyError('SHARDSYNC_SOURCE_UNAVAILABLE', 'the staged copy is not readable yet', { retriable: true });
        return applied;
      },
      [],
      createLogger('test', {}, 'silent'),
      { onProgress: () => (progress += 1) },
    ).handle(fakeBatch([event(put('k', 1))]));
    // Two retries, then the event finished.
    expect(progress).toBe(3);
  });

  it('once a heartbeat is refused (rebalance), the keys in flight finish and no new key starts; the rest is left unmarked for the next owner', async () => {
    const batch = fakeBatch([event(put('a', 1)), event(put('b', 1)), event(put('c', 1))]);
    batch.heartbeat = () => Promise.reject(Object.assign(new Error('The group is rebalancing, so a rejoin is needed'), { type: 'REBALANCE_IN_PROGRESS' }));
    const started: string[] = [];
    await processor(
      async (u) => {
        started.push(u.key);
        // Long enough for a few heartbeats.
        await new Promise((resolve) => setTimeout(resolve, 50));
        return applied;
      },
      [],
      createLogger('test', {}, 'silent'),
      { concurrency: 1, heartbeatMs: 5 },
    ).handle(batch);
    expect(started).toEqual(['a']);
    expect(batch.marked).toEqual([batch.events[0]?.offset]);
  });

  it("a missing bucket of this datacenter makes the partition wait and retry, never dead-letter, and the log names the datacenter and the bucket", async () => {
    const letters: OutgoingEvent[] = [];
    const logger = createLogger('test', {}, 'silent');
    const errors = vi.spyOn(logger, 'error');
    let calls = 0;
    const batch = fakeBatch([event(put('k', 1))]);
    await processor(async () => {
      calls += 1;
      if (calls < 3) throw new LocalBucketMissingError('dc-b', 'bucket-b');
      return applied;
    }, letters, logger).handle(batch);
    expect(calls).toBe(3);
    expect(letters).toEqual([]);
    expect(batch.marked).toEqual([batch.events[0]?.offset]);
    expect(errors).toHaveBeenCalledTimes(2);
    const [fields, message] = errors.mock.calls[0] as unknown as [Record<string, unknown>, string];
    expect(fields).toMatchObject({ code: 'SHARDSYNC_NO_SUCH_BUCKET', bucket: 'bucket-b', dataset: 'ds', key: 'k' });
    expect(message).toMatch(/bucket "bucket-b" of datacenter dc-b does not exist/);
  });

  it('a source with other bytes is dead-lettered after the mismatch wait, well before an unavailable source would be', async () => {
    vi.useFakeTimers();
    onTestFinished(() => void vi.useRealTimers());
    const letters: OutgoingEvent[] = [];
    const attempts = new Map<string, number>();
    const p = processor(
      async (u) => {
        attempts.set(u.key, (attempts.get(u.key) ?? 0) + 1);
        if (u.key === 'wrong') throw new ApplyError('SHARDSYNC_SOURCE_BYTES_MISMATCH', 'the staged bytes do not match', { retriable: true });
        if (u.key === 'missing' && (attempts.get(u.key) ?? 0) < 40) throw new ApplyError('SHARDSYNC_SOURCE_UNAVAILABLE', 'not readable yet', { retriable: true });
        return applied;
      },
      letters,
      createLogger('test', {}, 'silent'),
      { sourceWaitMs: 600_000, sourceMismatchWaitMs: 60_000 },
    );
    const done = deliverUntilDone(p, [event(put('wrong', 1)), event(put('missing', 1))]);
    await vi.advanceTimersByTimeAsync(120_000);
    // Two minutes in: the mismatch is dead-lettered, the missing source still waits.
    expect(letters.map((l) => readDeadLetter(l.headers ?? {})?.code)).toEqual(['SHARDSYNC_SOURCE_BYTES_MISMATCH']);
    await vi.advanceTimersByTimeAsync(600_000);
    await done;
    expect(letters).toHaveLength(1);
    expect(attempts.get('missing')).toBe(40);
  });

  it('time spent waiting for the bucket does not count against the wait for a payload source', async () => {
    vi.useFakeTimers();
    onTestFinished(() => void vi.useRealTimers());
    const letters: OutgoingEvent[] = [];
    let calls = 0;
    const p = processor(async () => {
      calls += 1;
      if (calls <= 3) {
        // Each attempt finds the bucket missing, two seconds apart: longer than the source wait (1 s) in all.
        vi.setSystemTime(Date.now() + 2000);
        throw new LocalBucketMissingError('dc-b', 'bucket-b');
      }
      if (calls === 4) throw new ApplyError('SHARDSYNC_SOURCE_UNAVAILABLE', 'the staged copy is not readable yet', { retriable: true });
      return applied;
    }, letters);
    const done = deliverUntilDone(p, [event(put('k', 1))]);
    await vi.advanceTimersByTimeAsync(60_000);
    await done;
    expect(calls).toBe(5);
    expect(letters).toEqual([]);
  });

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
    const handled = p.handle(old);
    await vi.advanceTimersByTimeAsync(3000);
    await handled;
    expect(old.pauses).toHaveLength(1);
    // Kafka lost and the topic created again (docs/runbooks/kafka-unavailable.md): the same
    // process fetches the new topic from offset 0, 90 s later.
    await vi.advanceTimersByTimeAsync(90_000);
    seen.length = 0;
    const fresh = fakeBatch([at(0, put('fresh-0', 5)), at(1, put('fresh-1', 5)), at(2, put('fresh-2', 5)), at(3, put('fresh-3', 5))]);
    const handling = p.handle(fresh);
    await vi.advanceTimersByTimeAsync(3000);
    await handling;
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
    const handled = p.handle(first);
    await vi.advanceTimersByTimeAsync(3000);
    await handled;
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
});

const unavailable = () => new ApplyError('SHARDSYNC_SOURCE_UNAVAILABLE', 'the staged copy is not readable yet', { retriable: true });

describe('BatchProcessor, updates that wait across fetches', () => {
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
    const h1 = p.handle(first);
    await vi.advanceTimersByTimeAsync(3000);
    await h1;
    expect(first.pauses).toHaveLength(1);
    expect(calls.get('b')).toBe(4);
    await vi.advanceTimersByTimeAsync(first.pauses[0] ?? 0);
    await p.handle(fakeBatch(events.slice(0, 1))); // cut short: only offset 10
    const before = calls.get('b') ?? 0;
    const third = fakeBatch(events);
    const h3 = p.handle(third);
    await vi.advanceTimersByTimeAsync(3000);
    await h3;
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
    const h1 = p.handle(first);
    await vi.advanceTimersByTimeAsync(5000);
    await h1;
    expect(calls.get('b')).toBe(4);
    await vi.advanceTimersByTimeAsync(16_000); // both due
    const second = fakeBatch(events);
    second.heartbeat = () => Promise.reject(Object.assign(new Error('rebalancing'), { type: 'REBALANCE_IN_PROGRESS' }));
    const h2 = p.handle(second);
    await vi.advanceTimersByTimeAsync(1000);
    await h2;
    const before = calls.get('b') ?? 0; // b was not started in the second batch
    const third = fakeBatch(events); // rejoined with the same assignment
    const h3 = p.handle(third);
    await vi.advanceTimersByTimeAsync(5000);
    await h3;
    expect((calls.get('b') ?? 0) - before).toBeLessThanOrEqual(1);
  });

  it('a commit refused at the end of a batch that left updates waiting loses nothing: no dead letter goes twice', async () => {
    vi.useFakeTimers();
    onTestFinished(() => void vi.useRealTimers());
    const letters: OutgoingEvent[] = [];
    const p = processor(async (u) => {
      if (u.key === 'slow') throw unavailable();
      return applied;
    }, letters, createLogger('test', {}, 'silent'), { sourceWaitMs: 3600_000 });
    const events = [at(10, put('slow', 1)), at(11, Buffer.from('garbage'))];
    const first = fakeBatch(events);
    first.commit = () => Promise.reject(Object.assign(new Error('The group is rebalancing'), { type: 'REBALANCE_IN_PROGRESS' }));
    const h1 = p.handle(first).catch(() => 'threw');
    await vi.advanceTimersByTimeAsync(3000);
    expect(await h1).toBe('threw');
    expect(letters).toHaveLength(1);
    // kafkajs rejoins, same assignment, fetches again from offset 10.
    await vi.advanceTimersByTimeAsync(16_000);
    const second = fakeBatch(events);
    const h2 = p.handle(second);
    await vi.advanceTimersByTimeAsync(3000);
    await h2;
    expect(letters).toHaveLength(1);
  });

  it('a partition not fetched for half an hour (Kafka unreachable) keeps what its last batch left: no dead letter goes twice', async () => {
    vi.useFakeTimers();
    onTestFinished(() => void vi.useRealTimers());
    const letters: OutgoingEvent[] = [];
    const p = processor(async (u) => {
      if (u.key === 'slow') throw unavailable();
      return applied;
    }, letters, createLogger('test', {}, 'silent'), { sourceWaitMs: 3 * 3600_000 });
    const events = [at(10, put('slow', 1)), at(11, Buffer.from('garbage'))];
    const first = fakeBatch(events);
    const h1 = p.handle(first);
    await vi.advanceTimersByTimeAsync(3000);
    await h1;
    expect(letters).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(31 * 60_000);
    const second = fakeBatch(events);
    const h2 = p.handle(second);
    await vi.advanceTimersByTimeAsync(3000);
    await h2;
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
    const handled = p.handle(first);
    await vi.advanceTimersByTimeAsync(3000);
    await handled;
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
    const handled = p.handle(first);
    await vi.advanceTimersByTimeAsync(3000);
    await handled;
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
