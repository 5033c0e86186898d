import type { KafkaAdmin } from '../context.js';
import { withCoordinatorRetry } from './coordinator-retry.js';

/** Offsets of one partition: `low` is the first retained, `high` the next to be written. */
export interface PartitionOffsets {
  readonly partition: number;
  readonly low: bigint;
  readonly high: bigint;
}

export { consumerGroupOf } from '@shardsync/config';

// Each call below is retried while a freshly started broker is still taking up its group
// coordinator or a new partition's leadership (see coordinator-retry.ts): kafkajs' admin client
// does not retry `fetchOffsets` at all, and retries `describeGroups` only against the coordinator
// it looked up once.

export async function topicOffsets(admin: KafkaAdmin, topic: string): Promise<PartitionOffsets[]> {
  const offsets = await withCoordinatorRetry(`reading the offsets of ${topic}`, () => admin.fetchTopicOffsets(topic));
  return offsets.map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) })).sort((a, b) => a.partition - b.partition);
}

/** A group's committed offset and metadata per partition; partitions it never committed are absent. */
export async function committedOffsets(admin: KafkaAdmin, groupId: string, topic: string): Promise<Map<number, { offset: string; metadata: string | null }>> {
  const result = await withCoordinatorRetry(`reading the committed offsets of group ${groupId}`, () => admin.fetchOffsets({ groupId, topics: [topic] }));
  const out = new Map<number, { offset: string; metadata: string | null }>();
  for (const t of result) {
    for (const p of t.partitions) if (!p.offset.startsWith('-')) out.set(p.partition, { offset: p.offset, metadata: p.metadata });
  }
  return out;
}

/** State and member count of consumer groups (`Dead` with 0 members for a group that does not exist). */
export async function describeGroups(admin: KafkaAdmin, groupIds: readonly string[]): Promise<Map<string, { state: string; members: number }>> {
  const { groups } = await withCoordinatorRetry(`describing consumer groups ${groupIds.join(', ')}`, () => admin.describeGroups([...groupIds]));
  return new Map(groups.map((g) => [g.groupId, { state: g.state, members: g.members.length }]));
}
