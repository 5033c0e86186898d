import { readDeadLetter, type ConsumedEvent, type DeadLetterInfo } from '@shardsync/eventlog';
import { EVENT_ID_HEADER } from '@shardsync/events';
import type { LetterState } from './replay-state.js';

/** One record of the dead-letter topic, as `dlq list` shows it. */
export interface DeadLetterView {
  /** Where the letter itself is, in the dead-letter topic. */
  readonly partition: number;
  readonly offset: string;
  /** The Kafka key: `<dataset>/<key>` for shard updates. */
  readonly key: string;
  /** The update's event id, from its headers, when it has one. */
  readonly eventId: string | undefined;
  /** Why and where it was dead-lettered; undefined for a record without dead-letter headers. */
  readonly deadLetter: DeadLetterInfo | undefined;
  /** Whether `dlq replay` already sent it back (or it can never be sent: no dead-letter headers). */
  readonly replayed: boolean;
  /** Whether `dlq discard` gave it up: it is never replayed. */
  readonly discarded: boolean;
}

/** Which letters a command acts on; an empty filter matches every dead letter. */
export interface DeadLetterFilter {
  readonly datacenter?: string | undefined;
  readonly code?: string | undefined;
}

export function viewOf(event: ConsumedEvent, state: LetterState): DeadLetterView {
  return {
    partition: event.partition,
    offset: event.offset,
    key: event.key?.toString('utf8') ?? '',
    eventId: event.headers[EVENT_ID_HEADER],
    deadLetter: readDeadLetter(event.headers),
    replayed: state === 'replayed',
    discarded: state === 'discarded',
  };
}

/** Whether a filter names at least one criterion. */
export function isFiltered(filter: DeadLetterFilter): boolean {
  return filter.datacenter !== undefined || filter.code !== undefined;
}

/** The filter in words, e.g. `datacenter dc-b, code SHARDSYNC_X`; empty for no filter. */
export function describeFilter(filter: DeadLetterFilter): string {
  return [filter.datacenter === undefined ? undefined : `datacenter ${filter.datacenter}`, filter.code === undefined ? undefined : `code ${filter.code}`]
    .filter((s) => s !== undefined)
    .join(', ');
}

/** Whether a letter matches the filter. Records that are not dead letters match no filter at all. */
export function matchesFilter(info: DeadLetterInfo | undefined, filter: DeadLetterFilter): boolean {
  if (info === undefined) return false;
  if (filter.datacenter !== undefined && info.datacenter !== filter.datacenter) return false;
  if (filter.code !== undefined && info.code !== filter.code) return false;
  return true;
}

/**
 * What makes two letters the same update: its event id, else its original position. A bad event
 * is dead-lettered once per datacenter, and a replay goes to every datacenter again, so sending
 * each letter would multiply the letters with every replay; one send per update is enough.
 */
export function identityOf(view: DeadLetterView): string {
  if (view.eventId !== undefined && view.eventId !== '') return `event:${view.eventId}`;
  const d = view.deadLetter;
  return d === undefined ? `dlq:${view.partition}/${view.offset}` : `origin:${d.originalTopic}/${d.originalPartition}/${d.originalOffset}`;
}
