import { describe, expect, it } from 'vitest';
import { ContiguousOffsetTracker } from '../src/offset-tracker.js';

describe('ContiguousOffsetTracker', () => {
  it('the committable offset only advances over a contiguous finished prefix', () => {
    const t = new ContiguousOffsetTracker('100');
    expect(t.finish('102')).toBeUndefined();
    expect(t.lastContiguous).toBeUndefined();
    expect(t.finish('100')).toBe(100n);
    expect(t.finish('101')).toBe(102n);
    expect(t.nextPending).toBe(103n);
  });

  it('finishing an offset twice or one before the start changes nothing', () => {
    const t = new ContiguousOffsetTracker(5n);
    expect(t.finish(4n)).toBeUndefined();
    expect(t.finish(5n)).toBe(5n);
    expect(t.finish(5n)).toBeUndefined();
    expect(t.lastContiguous).toBe(5n);
  });
});
