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

  it('owns no partitions once its consumer crashed or closed, until it joins again', async () => {
    const topic = await createTestTopic({ partitions: 2 });
    const sink = new KafkaEventSink(testKafka());
    onTestFinished(() => sink.close());
    const ownedWhen: Record<string, number[]> = {};
    let joins = 0;
    const source: KafkaEventSource = new KafkaEventSource(testKafka(), {
      groupId: uniqueName('group'),
      topic,
      onMembershipChange: (change) => {
        if (change.kind === 'joined') joins += 1;
        else ownedWhen[change.kind] ??= source.assignedPartitions();
      },
    });
    onTestFinished(() => source.close());
    await source.start(async (batch) => {
      // Until kafkajs runs out of retries: it leaves the group, reports the crash, starts again.
      if (ownedWhen['crashed'] === undefined) throw Object.assign(new Error('handler failing'), { retriable: true });
      batch.markDone(batch.events.at(-1)?.offset ?? '0');
    });
    await sink.append(topic, [{ key: 'k', value: Buffer.from('one') }]);
    await waitFor(() => (joins >= 2 ? true : undefined), { timeoutMs: 30_000, what: 'the source to crash and join again' });
    expect(ownedWhen['crashed']).toEqual([]);
    expect(source.assignedPartitions()).toEqual([0, 1]);
    await source.close();
    expect(source.assignedPartitions()).toEqual([]);
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
