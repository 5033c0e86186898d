import { createTestTopic, testKafka, uniqueName, waitFor } from '@shardsync/testing';
import { describe, expect, it, onTestFinished } from 'vitest';
import { KafkaEventSource } from '../src/index.js';

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
});
