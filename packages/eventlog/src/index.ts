export { EventLogError, appendWasUnsent, classifyKafkaError, isCoordinatorMoving, type EventLogErrorCode } from './errors.js';
export type { OutgoingEvent, ConsumedEvent, EventSink, EventSource, PartitionBatch, BatchHandler } from './types.js';
export { Batcher, type BatcherOptions } from './batcher.js';
export { ContiguousOffsetTracker } from './offset-tracker.js';
export { createKafkaClient, type KafkaClientOptions } from './kafka-client.js';
export { KafkaEventSink, type KafkaEventSinkOptions } from './kafka-sink.js';
export { KafkaEventSource, decodeHeaders, toConsumedEvent, type KafkaEventSourceOptions, type MembershipChange } from './kafka-source.js';
export { EventLogAdmin, type PartitionLag } from './admin.js';
export { DLQ_HEADERS, toDeadLetter, readDeadLetter, fromDeadLetter, type DeadLetterReason, type DeadLetterInfo } from './dead-letter.js';
