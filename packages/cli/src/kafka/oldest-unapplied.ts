import { decodeShardUpdate } from '@shardsync/events';
import type { ConsumedEvent } from '@shardsync/eventlog';
import type { KafkaClient } from '../context.js';
import { readRanges } from './topic-reader.js';

/** An event some group has not applied yet: the one at its committed offset. */
export interface UnappliedTarget {
  readonly partition: number;
  readonly offset: bigint;
}

/** When the event at a target offset was produced. */
export interface ProducedAt {
  readonly partition: number;
  /** Offset of the event read: the target, or the next one when the target is gone (retention). */
  readonly offset: string;
  readonly producedAtMs: number;
}

/** The event's own `producedAtMs`, or the broker timestamp when it does not decode (unknown schema, garbage). */
export function producedAtOf(event: ConsumedEvent): number {
  try {
    return decodeShardUpdate(event.value, event.headers).producedAtMs;
  } catch {
    return event.timestampMs;
  }
}

const keyOf = (partition: number, offset: bigint) => `${partition}:${offset}`;

/**
 * Reads the events at the given offsets (one group join for all of them, skipping between
 * targets of a partition by seeking) and returns when each was produced, keyed `partition:offset`.
 * Targets not read within the time are missing from the result.
 */
export async function readProducedAt(kafka: KafkaClient, topic: string, targets: readonly UnappliedTarget[], timeoutMs: number): Promise<Map<string, ProducedAt>> {
  const wanted = new Map<number, bigint[]>();
  for (const t of targets) wanted.set(t.partition, [...(wanted.get(t.partition) ?? []), t.offset]);
  for (const [p, offsets] of wanted) wanted.set(p, [...new Set(offsets)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  const found = new Map<string, ProducedAt>();
  const next = new Map<number, number>();
  const ranges = [...wanted].flatMap(([partition, offsets]) => {
    const first = offsets[0];
    const last = offsets[offsets.length - 1];
    return first === undefined || last === undefined ? [] : [{ partition, from: first, to: last + 1n }];
  });
  await readRanges(kafka, {
    topic,
    ranges,
    timeoutMs,
    maxBytesPerPartition: 64 * 1024,
    onEvents: (partition, events, session) => {
      const offsets = wanted.get(partition) ?? [];
      let i = next.get(partition) ?? 0;
      for (const event of events) {
        const offset = BigInt(event.offset);
        let produced: number | undefined;
        while (i < offsets.length && (offsets[i] ?? 0n) <= offset) {
          produced ??= producedAtOf(event);
          found.set(keyOf(partition, offsets[i] ?? 0n), { partition, offset: event.offset, producedAtMs: produced });
          i++;
        }
      }
      next.set(partition, i);
      const lastRead = events[events.length - 1];
      const target = offsets[i];
      if (target === undefined) session.finish(partition);
      else if (lastRead !== undefined && target > BigInt(lastRead.offset) + 1n) session.seek(partition, target);
    },
  });
  return found;
}

export { keyOf as producedAtKey };
