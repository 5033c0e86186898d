import { createTestTopic, testKafka, uniqueName, waitFor } from '@shardsync/testing';
import { describe, expect, it, onTestFinished } from 'vitest';
import { KafkaEventSink, KafkaEventSource, type OwnershipFence } from '../src/index.js';

describe('KafkaEventSource', () => {
  it('reports joining its consumer group, with its member id, before the assignment, and stopping once closed', async () => {
    const topic = await createTestTopic({ partitions: 2 });
    const seen: string[] = [];
    const source = new KafkaEventSource(testKafka(), {
      groupId: uniqueName('group'),
      topic,
      onMembershipChange: (change) => seen.push(change.kind === 'joined' ? `joined ${change.memberId}` : change.kind),
      onAssignment: (partitions) => seen.push(`assigned ${partitions.join(',')}`),
    });
    onTestFinished(() => source.close());

    await source.start(async () => undefined);
    await waitFor(() => (seen.some((s) => s.startsWith('assigned')) ? true : undefined), { what: 'the source to join its group' });

    // The member id kafkajs got from the group coordinator, e.g. `shardsync-test-<uuid>`.
    expect(seen[0]).toMatch(/^joined \S+$/);
    expect(seen[1]).toBe('assigned 0,1');
    await source.close();
    expect(seen.at(-1)).toBe('stopped');
  });

  it('hands batches a fence that holds while the session is answered, and none once the member stopped', async () => {
    const topic = await createTestTopic({ partitions: 1 });
    const sink = new KafkaEventSink(testKafka());
    onTestFinished(() => sink.close());
    // A fence holds for half the session timeout after the last answered heartbeat: 10 s here.
    const source = new KafkaEventSource(testKafka(), { groupId: uniqueName('group'), topic, sessionTimeoutMs: 20_000, heartbeatIntervalMs: 500 });
    onTestFinished(() => source.close());
    const fences: OwnershipFence[] = [];
    await source.start(async (batch) => {
      fences.push(batch.fence());
      batch.markDone(batch.events.at(-1)?.offset ?? '0');
    });
    await sink.append(topic, [{ key: 'k', value: Buffer.from('one') }]);
    const fence = await waitFor(() => fences[0], { what: 'a batch' });
    expect(fence.held()).toBe(true);
    // Longer than the window after the join: only the heartbeats answered since keep it.
    await new Promise((r) => setTimeout(r, 12_000));
    expect(fence.held()).toBe(true);
    await source.close();
    expect(fence.held()).toBe(false);
  });
});
