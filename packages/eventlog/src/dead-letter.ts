import type { ConsumedEvent, OutgoingEvent } from './types.js';

/** Header names a dead letter carries, so an operator can tell where it came from and why. */
export const DLQ_HEADERS = {
  topic: 'shardsync-dlq-original-topic',
  partition: 'shardsync-dlq-original-partition',
  offset: 'shardsync-dlq-original-offset',
  datacenter: 'shardsync-dlq-datacenter',
  code: 'shardsync-dlq-error-code',
  message: 'shardsync-dlq-error-message',
  at: 'shardsync-dlq-at-ms',
  /** Set on a letter sent without the original's value (Kafka refused it for its size): the value's byte length. */
  valueDropped: 'shardsync-dlq-value-dropped-bytes',
} as const;

export interface DeadLetterReason {
  datacenter: string;
  code: string;
  message: string;
}

export interface DeadLetterInfo extends DeadLetterReason {
  originalTopic: string;
  originalPartition: number;
  originalOffset: string;
  atMs: number;
}

/** Kafka headers are small; keep an error message from bloating every dead letter. */
const MAX_MESSAGE_CHARS = 2000;

/**
 * The dead letter for an event that can never be applied: its original key, value and
 * headers, plus headers naming the original topic, partition, offset, datacenter and error.
 */
export function toDeadLetter(event: ConsumedEvent, reason: DeadLetterReason, nowMs: number): OutgoingEvent {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers)) {
    if (!name.startsWith('shardsync-dlq-')) headers[name] = value;
  }
  headers[DLQ_HEADERS.topic] = event.topic;
  headers[DLQ_HEADERS.partition] = String(event.partition);
  headers[DLQ_HEADERS.offset] = event.offset;
  headers[DLQ_HEADERS.datacenter] = reason.datacenter;
  headers[DLQ_HEADERS.code] = reason.code;
  headers[DLQ_HEADERS.message] = reason.message.slice(0, MAX_MESSAGE_CHARS);
  headers[DLQ_HEADERS.at] = String(nowMs);
  return { key: event.key?.toString('utf8') ?? '', value: event.value ?? Buffer.alloc(0), headers };
}

/**
 * The same letter without the original's value, for a letter Kafka refuses for its size (an
 * original near the broker's limit plus the dead-letter headers). The original stays readable
 * in its topic at the partition and offset the headers name, until the topic's retention.
 */
export function withoutValue(letter: OutgoingEvent): OutgoingEvent {
  return { key: letter.key, value: Buffer.alloc(0), headers: { ...letter.headers, [DLQ_HEADERS.valueDropped]: String(letter.value.length) } };
}

/** Reads the dead-letter headers back; undefined when the event is not a shardsync dead letter. */
export function readDeadLetter(headers: Record<string, string>): DeadLetterInfo | undefined {
  const topic = headers[DLQ_HEADERS.topic];
  const partition = headers[DLQ_HEADERS.partition];
  const offset = headers[DLQ_HEADERS.offset];
  if (topic === undefined || partition === undefined || offset === undefined) return undefined;
  return {
    originalTopic: topic,
    originalPartition: Number(partition),
    originalOffset: offset,
    datacenter: headers[DLQ_HEADERS.datacenter] ?? '',
    code: headers[DLQ_HEADERS.code] ?? '',
    message: headers[DLQ_HEADERS.message] ?? '',
    atMs: Number(headers[DLQ_HEADERS.at] ?? 0),
  };
}

/** The event to send back to the original topic on replay: the original, without dead-letter headers. */
export function fromDeadLetter(event: ConsumedEvent): OutgoingEvent {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers)) {
    if (!name.startsWith('shardsync-dlq-')) headers[name] = value;
  }
  return { key: event.key?.toString('utf8') ?? '', value: event.value ?? Buffer.alloc(0), headers };
}
