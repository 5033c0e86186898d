import { describe, expect, it } from 'vitest';
import { SessionOwnership } from '../src/ownership.js';

describe('SessionOwnership', () => {
  const setup = () => {
    let now = 0;
    const ownership = new SessionOwnership(30_000, () => now);
    return { ownership, advance: (ms: number) => (now += ms) };
  };

  it('holds for half the session timeout after the last answered heartbeat, and again after the next one', () => {
    const { ownership, advance } = setup();
    ownership.joined();
    const fence = ownership.fence();
    advance(14_999);
    expect(fence.held()).toBe(true);
    advance(1);
    expect(fence.held()).toBe(false);
    ownership.confirmed();
    expect(fence.held()).toBe(true);
  });

  it('ends every fence taken before a new join, even one the session would still cover', () => {
    const { ownership } = setup();
    ownership.joined();
    const before = ownership.fence();
    ownership.joined();
    expect(before.held()).toBe(false);
    expect(ownership.fence().held()).toBe(true);
  });

  it('holds for nobody after a crash or stop until the member joins again, heartbeats or not', () => {
    const { ownership } = setup();
    expect(ownership.fence().held()).toBe(false);
    ownership.joined();
    const before = ownership.fence();
    ownership.lost();
    ownership.confirmed();
    expect(before.held()).toBe(false);
    expect(ownership.fence().held()).toBe(false);
    ownership.joined();
    expect(ownership.fence().held()).toBe(true);
  });
});
