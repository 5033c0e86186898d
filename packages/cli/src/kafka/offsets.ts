import { classifyKafkaError } from '@shardsync/eventlog';
import type { KafkaAdmin } from '../context.js';

/** Offsets of one partition: `low` is the first retained, `high` the next to be written. */
export interface PartitionOffsets {
  readonly partition: number;
  readonly low: bigint;
  readonly high: bigint;
}

export { consumerGroupOf } from '@shardsync/config';

export async function topicOffsets(admin: KafkaAdmin, topic: string): Promise<PartitionOffsets[]> {
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) })).sort((a, b) => a.partition - b.partition);
  } catch (err) {
    throw classifyKafkaError(err, `reading the offsets of ${topic}`);
  }
}

/** A group's committed offset and metadata per partition; partitions it never committed are absent. */
export async function committedOffsets(admin: KafkaAdmin, groupId: string, topic: string): Promise<Map<number, { offset: string; metadata: string | null }>> {
  try {
    const result = await admin.fetchOffsets({ groupId, topics: [topic] });
    const out = new Map<number, { offset: string; metadata: string | null }>();
    for (const t of result) {
      for (const p of t.partitions) if (!p.offset.startsWith('-')) out.set(p.partition, { offset: p.offset, metadata: p.metadata });
    }
    return out;
  } catch (err) {
    throw classifyKafkaError(err, `reading the committed offsets of group ${groupId}`);
  }
}

/** State and member count of consumer groups (`Dead` with 0 members for a group that does not exist). */
export async function describeGroups(admin: KafkaAdmin, groupIds: readonly string[]): Promise<Map<string, { state: string; members: number }>> {
  try {
    const { groups } = await admin.describeGroups([...groupIds]);
    return new Map(groups.map((g) => [g.groupId, { state: g.state, members: g.members.length }]));
  } catch (err) {
    throw classifyKafkaError(err, `describing consumer groups ${groupIds.join(', ')}`);
  }
}
