import type { CliContext, KafkaAdmin } from '../context.js';
import { InterruptedError } from '../errors.js';
import { untilInterrupted } from '../interrupt.js';
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

/**
 * {@link loadDeadLetterPartitions} for a command, after `before` (checks on the same admin client),
 * stopped at once by the operator's Ctrl-C: on a broker that accepts connections and never
 * answers, kafkajs' connects and retries would otherwise run their timeouts out first. Only reads.
 */
export async function loadPartitionsForCommand(ctx: CliContext, topic: string, groupId?: string, before?: (admin: KafkaAdmin) => Promise<void>): Promise<DeadLetterPartition[]> {
  return untilInterrupted(
    ctx.signal,
    async () => {
      const admin = await ctx.rawAdmin();
      await before?.(admin);
      return loadDeadLetterPartitions(admin, topic, groupId);
    },
    () => new InterruptedError(`reading the offsets of ${topic} was interrupted; nothing was changed`, 'run it again'),
  );
}
