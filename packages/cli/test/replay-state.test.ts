import { describe, expect, it } from 'vitest';
import { discardedCount, encodeReplayState, isReplayed, letterState, MAX_REPLAY_RANGES, parseReplayState, pendingCount, ReplayTracker } from '../src/index.js';

/** Scans offsets [from, to) like a replay does: `wanted` decides which ones it sends. */
function scan(tracker: ReplayTracker, from: number, to: number, wanted: (offset: number) => boolean): void {
  for (let o = from; o < to; o++) {
    const offset = BigInt(o);
    if (tracker.isReplayed(offset)) tracker.markDone(offset);
    else if (wanted(o)) tracker.markDone(offset);
    else tracker.markPending(offset);
  }
  tracker.complete(BigInt(to));
}

describe('dead-letter replay progress', () => {
  it('starts at the low watermark when the group never committed', () => {
    expect(parseReplayState(undefined, null, 5n)).toEqual({ watermark: 5n, replayed: [], discarded: [] });
    expect(parseReplayState('-1', '', 0n)).toEqual({ watermark: 0n, replayed: [], discarded: [] });
  });

  it('moves the watermark to the end when everything was replayed', () => {
    const tracker = new ReplayTracker(parseReplayState(undefined, null, 0n));
    scan(tracker, 0, 10, () => true);
    expect(tracker.state).toEqual({ watermark: 10n, replayed: [], discarded: [] });
  });

  it('keeps letters a filter left behind replayable, and records the ones it replayed after them', () => {
    const tracker = new ReplayTracker(parseReplayState(undefined, null, 0n));
    // Only even offsets match (say, one datacenter's letters), from offset 2 on.
    scan(tracker, 0, 8, (o) => o === 0 || o % 2 === 0);
    const state = tracker.state;
    expect(state.watermark).toBe(1n);
    expect(state.replayed).toEqual([
      [2n, 2n],
      [4n, 4n],
      [6n, 6n],
    ]);
    for (const o of [1n, 3n, 5n, 7n]) expect(isReplayed(state, o)).toBe(false);
    for (const o of [0n, 2n, 4n, 6n]) expect(isReplayed(state, o)).toBe(true);
  });

  it('survives the round trip through offset metadata, and a second unfiltered replay sends only what is left', () => {
    const first = new ReplayTracker(parseReplayState(undefined, null, 0n));
    scan(first, 0, 8, (o) => o % 2 === 0);
    const stored = first.state;
    const reread = parseReplayState(stored.watermark.toString(), encodeReplayState(stored), 0n);
    expect(reread).toEqual(stored);

    const second = new ReplayTracker(reread);
    const sent: number[] = [];
    for (let o = Number(reread.watermark); o < 8; o++) {
      if (second.isReplayed(BigInt(o))) second.markDone(BigInt(o));
      else {
        sent.push(o);
        second.markDone(BigInt(o));
      }
    }
    second.complete(8n);
    expect(sent).toEqual([1, 3, 5, 7]);
    expect(second.state).toEqual({ watermark: 8n, replayed: [], discarded: [] });
  });

  it('lets the watermark absorb replayed ranges that become contiguous with it', () => {
    const state = parseReplayState('3', JSON.stringify({ v: 1, r: [[3, 6], [8, 9]] }), 0n);
    expect(state).toEqual({ watermark: 7n, replayed: [[8n, 9n]], discarded: [] });
  });

  it('ignores metadata it cannot read, which can only cause a resend, never a skip', () => {
    expect(parseReplayState('4', 'not json', 0n)).toEqual({ watermark: 4n, replayed: [], discarded: [] });
    expect(parseReplayState('4', JSON.stringify({ v: 2, r: [[5, 6]] }), 0n)).toEqual({ watermark: 4n, replayed: [], discarded: [] });
  });

  it('drops what retention removed below the low watermark', () => {
    expect(parseReplayState('2', JSON.stringify({ v: 1, r: [[4, 5], [20, 21]] }), 10n)).toEqual({ watermark: 10n, replayed: [[20n, 21n]], discarded: [] });
  });

  it('counts pending letters between the watermark and the end, minus replayed ranges', () => {
    const state = parseReplayState('2', JSON.stringify({ v: 1, r: [[4, 5]] }), 0n);
    expect(pendingCount(state, 0n, 10n)).toBe(6);
    expect(pendingCount(state, 0n, 2n)).toBe(0);
  });

  it('refuses to record more ranges than offset metadata can hold', () => {
    const tracker = new ReplayTracker(parseReplayState(undefined, null, 0n));
    tracker.markPending(0n);
    let o = 1n;
    while (tracker.canMarkDone(o)) {
      tracker.markDone(o);
      tracker.markPending(o + 1n);
      o += 2n;
    }
    expect(tracker.state.replayed).toHaveLength(MAX_REPLAY_RANGES);
    // Extending an existing range still fits.
    expect(tracker.canMarkDone((tracker.state.replayed[0]?.[1] ?? 0n) + 1n)).toBe(true);
    expect(encodeReplayState(tracker.state).length).toBeLessThan(4096);
  });
});

describe('dead-letter discard record', () => {
  /** Scans offsets [from, to) like a discard does: `wanted` decides which ones it discards. */
  function discard(tracker: ReplayTracker, from: number, to: number, wanted: (offset: number) => boolean): void {
    for (let o = from; o < to; o++) {
      const offset = BigInt(o);
      if (tracker.isReplayed(offset)) tracker.markDone(offset);
      else if (wanted(o)) tracker.markDiscarded(offset);
      else tracker.markPending(offset);
    }
    tracker.complete(BigInt(to));
  }

  it('keeps discarded letters recorded below the watermark, apart from replayed ones, through offset metadata', () => {
    const tracker = new ReplayTracker(parseReplayState(undefined, null, 0n));
    // Discard offsets 1 and 2; then a replay of everything else.
    discard(tracker, 0, 6, (o) => o === 1 || o === 2);
    expect(tracker.state).toEqual({ watermark: 0n, replayed: [[1n, 2n]], discarded: [[1n, 2n]] });
    scan(tracker, Number(tracker.state.watermark), 6, () => true);
    const stored = tracker.state;
    expect(stored).toEqual({ watermark: 6n, replayed: [], discarded: [[1n, 2n]] });
    const reread = parseReplayState(stored.watermark.toString(), encodeReplayState(stored), 0n);
    expect(reread).toEqual(stored);
    expect([0n, 1n, 2n, 3n, 6n].map((o) => letterState(reread, o))).toEqual(['replayed', 'discarded', 'discarded', 'replayed', 'pending']);
    expect(pendingCount(reread, 0n, 6n)).toBe(0);
    expect(discardedCount(reread, 0n, 6n)).toBe(2);
  });

  it('never lets a later replay send a discarded letter', () => {
    const tracker = new ReplayTracker(parseReplayState(undefined, null, 0n));
    discard(tracker, 0, 5, (o) => o === 3);
    const reread = parseReplayState(tracker.state.watermark.toString(), encodeReplayState(tracker.state), 0n);
    const replay = new ReplayTracker(reread);
    const sent: number[] = [];
    for (let o = Number(reread.watermark); o < 5; o++) {
      if (!replay.isReplayed(BigInt(o))) sent.push(o);
      replay.markDone(BigInt(o));
    }
    expect(sent).toEqual([0, 1, 2, 4]);
  });

  it('writes no discard field while nothing was discarded, and a reader that only knows replayed ranges still treats discarded letters as done', () => {
    expect(encodeReplayState(parseReplayState('3', null, 0n))).toBe('{"v":1,"r":[]}');
    const state = parseReplayState('0', JSON.stringify({ v: 1, r: [], d: [[0, 1], [4, 4]] }), 0n);
    expect(state).toEqual({ watermark: 2n, replayed: [[4n, 4n]], discarded: [[0n, 1n], [4n, 4n]] });
    // A malformed discard field loses only the annotation.
    expect(parseReplayState('2', JSON.stringify({ v: 1, r: [[4, 4]], d: 'x' }), 0n)).toEqual({ watermark: 2n, replayed: [[4n, 4n]], discarded: [] });
  });

  it('forgets discarded letters once retention removed them', () => {
    const state = parseReplayState('20', JSON.stringify({ v: 1, r: [], d: [[2, 3], [8, 12]] }), 10n);
    expect(state.discarded).toEqual([[10n, 12n]]);
    expect(discardedCount(state, 10n, 20n)).toBe(3);
  });

  it('refuses to discard when the ranges of both kinds would not fit the offset metadata', () => {
    const tracker = new ReplayTracker(parseReplayState(undefined, null, 0n));
    tracker.markPending(0n);
    let o = 1n;
    while (tracker.canDiscard(o)) {
      tracker.markDiscarded(o);
      tracker.markPending(o + 1n);
      o += 2n;
    }
    const { replayed, discarded } = tracker.state;
    expect(replayed.length + discarded.length).toBe(MAX_REPLAY_RANGES);
    // A replayed letter next to a discarded one extends its range and still fits.
    expect(tracker.canMarkDone((replayed[0]?.[1] ?? 0n) + 1n)).toBe(true);
    expect(tracker.canMarkDone(o + 10n)).toBe(false);
    expect(encodeReplayState(tracker.state).length).toBeLessThan(4096);
  });
});
