import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { DLQ_HEADERS, EventLogError, readDeadLetter, type EventSink, type OutgoingEvent } from '@shardsync/eventlog';
import { createLogger } from '@shardsync/runtime';
import { ApplyError, LocalBucketMissingError } from '../src/apply/errors.js';
import { applied, deliverUntilDone, event, fakeBatch, processor, put } from './processor-fixtures.js';

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

  it('a dead letter that cannot be written stops waiting once a heartbeat is refused (rebalance): the batch returns and leaves its events unmarked for the next owner', async () => {
    const closing = new AbortController();
    onTestFinished(() => closing.abort(new Error('test over')));
    const deadLetters: EventSink = {
      append: async () => {
        throw new EventLogError('SHARDSYNC_EVENTLOG_TOPIC_MISSING', 'appending events: the topic does not exist', { retriable: false });
      },
      ping: async () => undefined,
      close: async () => undefined,
    };
    const batch = fakeBatch([event(put('before', 1)), event(Buffer.from('garbage')), event(put('after', 1))]);
    batch.heartbeat = () => Promise.reject(Object.assign(new Error('The group is rebalancing, so a rejoin is needed'), { type: 'REBALANCE_IN_PROGRESS' }));
    const applies: string[] = [];
    const handled = processor(
      async (u) => {
        applies.push(u.key);
        return applied;
      },
      [],
      createLogger('test', {}, 'silent'),
      { deadLetters, heartbeatMs: 5, signal: closing.signal },
    ).handle(batch);
    // Before, the letter was retried (up to 10 s apart) until the service closed, holding the
    // batch, and every partition fetched with it, through the rebalance until the member was dropped.
    const outcome = await Promise.race([handled.then(() => 'returned'), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 3000))]);
    expect(outcome).toBe('returned');
    expect(applies).toEqual([]);
    expect(batch.marked).toEqual([]);
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
});
