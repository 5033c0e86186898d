import type { KafkaAdmin } from '../context.js';
import { committedOffsets, topicOffsets, type PartitionOffsets } from '../kafka/offsets.js';
import { discardedCount, DLQ_REPLAY_GROUP, parseReplayState, pendingCount, type ReplayState } from './replay-state.js';

/** A dead-letter partition: its offsets and what was replayed or discarded of it. */
export interface DeadLetterPartition extends PartitionOffsets {
  readonly state: ReplayState;
  /** Letters neither replayed nor discarded yet. */
  readonly pending: number;
  /** Retained letters that were discarded. */
  readonly discarded: number;
}

/** The dead-letter topic's partitions with the replay (and discard) progress kept by the replay group. */
export async function loadDeadLetterPartitions(admin: KafkaAdmin, topic: string, groupId = DLQ_REPLAY_GROUP): Promise<DeadLetterPartition[]> {
  const [offsets, committed] = await Promise.all([topicOffsets(admin, topic), committedOffsets(admin, groupId, topic)]);
  return offsets.map((o) => {
    const c = committed.get(o.partition);
    const state = parseReplayState(c?.offset, c?.metadata, o.low);
    return { ...o, state, pending: pendingCount(state, o.low, o.high), discarded: discardedCount(state, o.low, o.high) };
  });
}
