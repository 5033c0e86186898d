import { describe, expect, it } from 'vitest';
import { encodeReplayState, isReplayed, MAX_REPLAY_RANGES, parseReplayState, pendingCount, ReplayTracker } from '../src/index.js';

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
    expect(parseReplayState(undefined, null, 5n)).toEqual({ watermark: 5n, replayed: [] });
    expect(parseReplayState('-1', '', 0n)).toEqual({ watermark: 0n, replayed: [] });
  });

  it('moves the watermark to the end when everything was replayed', () => {
    const tracker = new ReplayTracker(parseReplayState(undefined, null, 0n));
    scan(tracker, 0, 10, () => true);
    expect(tracker.state).toEqual({ watermark: 10n, replayed: [] });
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
    expect(second.state).toEqual({ watermark: 8n, replayed: [] });
  });

  it('lets the watermark absorb replayed ranges that become contiguous with it', () => {
    const state = parseReplayState('3', JSON.stringify({ v: 1, r: [[3, 6], [8, 9]] }), 0n);
    expect(state).toEqual({ watermark: 7n, replayed: [[8n, 9n]] });
  });

  it('ignores metadata it cannot read, which can only cause a resend, never a skip', () => {
    expect(parseReplayState('4', 'not json', 0n)).toEqual({ watermark: 4n, replayed: [] });
    expect(parseReplayState('4', JSON.stringify({ v: 2, r: [[5, 6]] }), 0n)).toEqual({ watermark: 4n, replayed: [] });
  });

  it('drops what retention removed below the low watermark', () => {
    expect(parseReplayState('2', JSON.stringify({ v: 1, r: [[4, 5], [20, 21]] }), 10n)).toEqual({ watermark: 10n, replayed: [[20n, 21n]] });
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
