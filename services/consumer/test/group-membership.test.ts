import { describe, expect, it } from 'vitest';
import { GroupMembership } from '../src/group-membership.js';

describe('GroupMembership', () => {
  it('is not ready before the consumer joined its group, and says so', async () => {
    const m = new GroupMembership('shardsync.dc.dc-b');
    await expect(m.check()).rejects.toThrow('has not joined consumer group shardsync.dc.dc-b yet');
    m.joined('member-1');
    await expect(m.check()).resolves.toBeUndefined();
  });

  it('is not ready after a crash until the restarted consumer joins again', async () => {
    const m = new GroupMembership('g');
    m.joined('member-1');
    // kafkajs stops the consumer before it reports the crash.
    m.stopped();
    m.crashed(new Error('Connection error: ECONNREFUSED'), true);
    await expect(m.check()).rejects.toThrow('the Kafka consumer of group g crashed (Connection error: ECONNREFUSED); it is restarting and will join again');
    m.stopped();
    expect(m.state.kind).toBe('crashed');
    m.joined('member-2');
    await expect(m.check()).resolves.toBeUndefined();
  });

  it('is not ready after a crash it will not restart from, nor once stopped', async () => {
    const crashed = new GroupMembership('g');
    crashed.joined('m');
    crashed.crashed(new Error('not authorized'), false);
    await expect(crashed.check()).rejects.toThrow('it will not restart');
    const stopped = new GroupMembership('g');
    stopped.joined('m');
    stopped.stopped();
    await expect(stopped.check()).rejects.toThrow('the Kafka consumer of group g is stopped');
  });

  it('follows the membership changes the Kafka event source reports', async () => {
    const m = new GroupMembership('g');
    m.observe({ kind: 'joined', memberId: 'member-1' });
    expect(m.state).toEqual({ kind: 'joined', memberId: 'member-1' });
    m.observe({ kind: 'stopped' });
    m.observe({ kind: 'crashed', error: new Error('Connection error: ECONNREFUSED'), restart: true });
    m.observe({ kind: 'stopped' });
    await expect(m.check()).rejects.toThrow('crashed (Connection error: ECONNREFUSED); it is restarting');
    m.observe({ kind: 'joined', memberId: 'member-2' });
    await expect(m.check()).resolves.toBeUndefined();
  });
});
