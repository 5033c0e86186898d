import { toDeadLetter, type ConsumedEvent } from '@shardsync/eventlog';
import { EVENT_ID_HEADER } from '@shardsync/events';
import { describe, expect, it } from 'vitest';
import { identityOf } from '../src/dlq/letters.js';
import { MAX_REPLAY_RANGES, parseReplayState, ReplayTracker } from '../src/dlq/replay-state.js';
import { emptyCounts, settleLetters, type LetterDecision, type LetterPolicy, type PendingLetter } from '../src/dlq/walk.js';

/** A record at `offset` of the dead-letter topic: a letter from `datacenter`, or (undefined) a record without dead-letter headers. */
function recordAt(offset: number, datacenter: string | undefined, eventId = `event-${offset}`): ConsumedEvent {
  const original: ConsumedEvent = {
    topic: 'shardsync.updates',
    partition: 3,
    offset: String(100 + offset),
    key: Buffer.from(`models/k${offset}`),
    value: Buffer.from('update'),
    headers: { [EVENT_ID_HEADER]: eventId },
    timestampMs: 0,
  };
  const headers = datacenter === undefined ? {} : (toDeadLetter(original, { datacenter, code: 'SHARDSYNC_UNKNOWN_SCHEMA', message: 'unknown schema' }, 1).headers ?? {});
  return { ...original, topic: 'shardsync.updates.dlq', partition: 0, offset: String(offset), headers };
}

/** A policy that decides with `decide` and remembers what was recorded, as offset:decision. */
function policyOf(decide: (letter: PendingLetter) => LetterDecision): LetterPolicy & { readonly recordedLetters: string[]; readonly decided: string[] } {
  const recordedLetters: string[] = [];
  const decided: string[] = [];
  return {
    recordedLetters,
    decided,
    decide: (letter) => {
      decided.push(letter.view.offset);
      return decide(letter);
    },
    recorded: (letter, decision) => {
      recordedLetters.push(`${letter.view.offset}:${decision}`);
    },
  };
}

/** A tracker whose state already holds `ranges` single-offset ranges far above the letters read. */
function trackerWithRanges(ranges: number): ReplayTracker {
  const r = Array.from({ length: ranges }, (_, i) => [1000 + 2 * i, 1000 + 2 * i]);
  return new ReplayTracker(parseReplayState('0', JSON.stringify({ v: 1, r }), 0n));
}

describe('settling pending dead letters', () => {
  it('settles records without dead-letter headers as done, leaves letters the filter excludes pending, and records matching ones as the policy decides', () => {
    const tracker = new ReplayTracker(parseReplayState(undefined, null, 0n));
    const policy = policyOf(() => 'take');
    const counts = emptyCounts();
    const events = [recordAt(0, undefined), recordAt(1, 'dc-b'), recordAt(2, 'dc-a'), recordAt(3, 'dc-b')];

    const settled = settleLetters(tracker, events, { datacenter: 'dc-b' }, policy, counts);

    expect(settled.stopped).toBe(false);
    expect(settled.taken.map((l) => l.view.offset)).toEqual(['1', '3']);
    expect(settled.taken[0]?.view.deadLetter).toMatchObject({ datacenter: 'dc-b', originalOffset: '101' });
    expect(policy.recordedLetters).toEqual(['1:take', '3:take']);
    expect(counts).toEqual({ scanned: 4, ignored: 1, notMatching: 1, decisions: { take: 2, discard: 0, 'skip-duplicate': 0, leave: 0 } });
    // 0 and 1 are done and move the watermark; 2 stays pending, so 3 is a range after it.
    expect(tracker.state).toEqual({ watermark: 2n, replayed: [[3n, 3n]], discarded: [] });
  });

  it('neither counts nor decides again what an earlier run handled', () => {
    const tracker = new ReplayTracker(parseReplayState('0', JSON.stringify({ v: 1, r: [[1, 1]] }), 0n));
    const policy = policyOf(() => 'take');
    const counts = emptyCounts();

    settleLetters(tracker, [recordAt(0, 'dc-a'), recordAt(1, 'dc-a'), recordAt(2, 'dc-a')], {}, policy, counts);

    expect(policy.decided).toEqual(['0', '2']);
    expect(counts.scanned).toBe(2);
    expect(tracker.state).toEqual({ watermark: 3n, replayed: [], discarded: [] });
  });

  it('records a discard as discarded and a skipped duplicate as done, and takes neither', () => {
    const tracker = new ReplayTracker(parseReplayState(undefined, null, 0n));
    const policy = policyOf((letter) => (letter.view.offset === '0' ? 'discard' : 'skip-duplicate'));
    const counts = emptyCounts();

    const settled = settleLetters(tracker, [recordAt(0, 'dc-a'), recordAt(1, 'dc-a')], {}, policy, counts);

    expect(settled.taken).toEqual([]);
    expect(counts.decisions).toEqual({ take: 0, discard: 1, 'skip-duplicate': 1, leave: 0 });
    expect(tracker.state).toEqual({ watermark: 2n, replayed: [], discarded: [[0n, 0n]] });
  });

  it('leaves a letter the policy will not handle pending: counted, not taken, and the watermark stays before it', () => {
    const tracker = new ReplayTracker(parseReplayState(undefined, null, 0n));
    const policy = policyOf((letter) => (letter.view.offset === '1' ? 'leave' : 'take'));
    const counts = emptyCounts();

    const settled = settleLetters(tracker, [recordAt(0, 'dc-a'), recordAt(1, 'dc-a'), recordAt(2, 'dc-a')], {}, policy, counts);

    expect(settled.taken.map((l) => l.view.offset)).toEqual(['0', '2']);
    expect(counts.decisions).toEqual({ take: 2, discard: 0, 'skip-duplicate': 0, leave: 1 });
    expect(tracker.state).toEqual({ watermark: 1n, replayed: [[2n, 2n]], discarded: [] });
  });

  it('records each decision before deciding the next letter, so a policy can tell the duplicates of a letter it took in the same batch', () => {
    const tracker = new ReplayTracker(parseReplayState(undefined, null, 0n));
    const sent = new Set<string>();
    const policy: LetterPolicy = {
      decide: (letter) => (sent.has(identityOf(letter.view)) ? 'skip-duplicate' : 'take'),
      recorded: (letter, decision) => {
        if (decision === 'take') sent.add(identityOf(letter.view));
      },
    };
    const counts = emptyCounts();
    const events = [recordAt(0, 'dc-a', 'same'), recordAt(1, 'dc-b', 'same'), recordAt(2, 'dc-c', 'other')];

    const settled = settleLetters(tracker, events, {}, policy, counts);

    expect(settled.taken.map((l) => l.view.offset)).toEqual(['0', '2']);
    expect(counts.decisions).toEqual({ take: 2, discard: 0, 'skip-duplicate': 1, leave: 0 });
  });

  it('stops before a letter whose decision the record of handled letters has no room for, without recording it', () => {
    const full = trackerWithRanges(MAX_REPLAY_RANGES);
    const policy = policyOf(() => 'take');
    const counts = emptyCounts();
    // Offset 0 is left pending, so offset 1 would need a range of its own.
    const settled = settleLetters(full, [recordAt(0, 'dc-a'), recordAt(1, 'dc-b'), recordAt(2, 'dc-b')], { datacenter: 'dc-b' }, policy, counts);

    // Offset 0 was settled (left pending), offset 1 was not: a dry run stopping here reports 0.
    expect(settled).toEqual({ taken: [], stopped: true, lastSettled: 0n });
    expect(policy.recordedLetters).toEqual([]);
    expect(counts).toMatchObject({ scanned: 1, notMatching: 1, decisions: { take: 0, discard: 0, 'skip-duplicate': 0, leave: 0 } });
    expect(full.isReplayed(1n)).toBe(false);
  });

  it('checks the room a discard needs, which is more than a take: it is also recorded as discarded', () => {
    const events = [recordAt(0, 'dc-a'), recordAt(1, 'dc-b')];
    const filter = { datacenter: 'dc-b' };

    const taking = settleLetters(trackerWithRanges(MAX_REPLAY_RANGES - 1), events, filter, policyOf(() => 'take'), emptyCounts());
    const discarding = settleLetters(trackerWithRanges(MAX_REPLAY_RANGES - 1), events, filter, policyOf(() => 'discard'), emptyCounts());

    expect(taking.stopped).toBe(false);
    expect(taking.taken.map((l) => l.view.offset)).toEqual(['1']);
    expect(discarding.stopped).toBe(true);
  });
});
