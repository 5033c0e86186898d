import type { KafkaAdmin } from '../context.js';
import { committedOffsets, topicOffsets, type PartitionOffsets } from '../kafka/offsets.js';
import { DLQ_REPLAY_GROUP, parseReplayState, pendingCount, type ReplayState } from './replay-state.js';

/** A dead-letter partition: its offsets and what was replayed of it. */
export interface DeadLetterPartition extends PartitionOffsets {
  readonly state: ReplayState;
  /** Letters not replayed yet. */
  readonly pending: number;
}

/** The dead-letter topic's partitions with the replay progress kept by the replay group. */
export async function loadDeadLetterPartitions(admin: KafkaAdmin, topic: string, groupId = DLQ_REPLAY_GROUP): Promise<DeadLetterPartition[]> {
  const [offsets, committed] = await Promise.all([topicOffsets(admin, topic), committedOffsets(admin, groupId, topic)]);
  return offsets.map((o) => {
    const c = committed.get(o.partition);
    const state = parseReplayState(c?.offset, c?.metadata, o.low);
    return { ...o, state, pending: pendingCount(state, o.low, o.high) };
  });
}
