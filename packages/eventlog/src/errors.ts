export type EventLogErrorCode =
  | 'SHARDSYNC_EVENTLOG_UNAVAILABLE'
  | 'SHARDSYNC_EVENTLOG_REJECTED'
  | 'SHARDSYNC_EVENTLOG_CLOSED'
  | 'SHARDSYNC_EVENTLOG_TOPIC_MISSING';

/** A failure of the event log (Kafka). `retriable` says whether trying again can help. */
export class EventLogError extends Error {
  readonly code: EventLogErrorCode;
  readonly retriable: boolean;
  /**
   * True when none of the failed append's events can have reached the log (it failed before
   * anything was sent). When false, a failed append may still have been written: a request that
   * timed out or lost its connection after the broker appended it.
   */
  readonly unsent: boolean;

  constructor(code: EventLogErrorCode, message: string, options: { retriable: boolean; cause?: unknown; unsent?: boolean }) {
    super(message, { cause: options.cause });
    this.name = 'EventLogError';
    this.code = code;
    this.retriable = options.retriable;
    this.unsent = options.unsent ?? false;
  }
}

/** Whether `err` (or an error it wraps) says an append failed before anything reached the log. */
export function appendWasUnsent(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth += 1) {
    if (e instanceof EventLogError) return e.unsent;
  }
  return false;
}

interface KafkaJsLikeError {
  name?: unknown;
  message?: unknown;
  retriable?: unknown;
  type?: unknown;
}

// kafkajs error classes that mean "the broker could not be reached or did not answer in time".
const UNAVAILABLE = new Set([
  'KafkaJSConnectionError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSBrokerNotFound',
  'KafkaJSConnectionClosedError',
  'KafkaJSLockTimeout',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTimeout',
]);

/**
 * kafkajs protocol error types (kafkajs src/protocol/error.js, all marked retriable there) of a
 * group coordinator that moved to another broker or is still loading its groups, as right after
 * a broker restart: GROUP_LOAD_IN_PROGRESS (Kafka's COORDINATOR_LOAD_IN_PROGRESS, 14),
 * GROUP_COORDINATOR_NOT_AVAILABLE (COORDINATOR_NOT_AVAILABLE, 15), NOT_COORDINATOR_FOR_GROUP
 * (NOT_COORDINATOR, 16).
 */
const COORDINATOR_MOVING_TYPES: ReadonlySet<string> = new Set(['GROUP_LOAD_IN_PROGRESS', 'GROUP_COORDINATOR_NOT_AVAILABLE', 'NOT_COORDINATOR_FOR_GROUP']);

/**
 * True when `err`, or an error it wraps (`cause`: kafkajs' `KafkaJSNumberOfRetriesExceeded`, an
 * {@link EventLogError}), says the group coordinator moved, is loading, or could not be found
 * (`KafkaJSGroupCoordinatorNotFound`: every broker answered "not available" until kafkajs' own
 * retries ran out). Trying the group operation again shortly can succeed. Never throws.
 */
export function isCoordinatorMoving(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    const e = current as KafkaJsLikeError & { cause?: unknown };
    if (e.name === 'KafkaJSGroupCoordinatorNotFound') return true;
    if (e.name === 'KafkaJSProtocolError' && typeof e.type === 'string' && COORDINATOR_MOVING_TYPES.has(e.type)) return true;
    current = e.cause;
  }
  return false;
}

/** Whether Kafka refused an append because a record is larger than the broker (or topic) accepts. */
export function isMessageTooLarge(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth += 1) {
    if ((e as { type?: unknown }).type === 'MESSAGE_TOO_LARGE') return true;
  }
  return false;
}

/** Whether `err`, or an error it wraps (kafkajs' retrier wraps the last one), is Kafka's UNKNOWN_TOPIC_OR_PARTITION. */
function isTopicMissing(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth += 1) {
    const k = e as KafkaJsLikeError;
    if (k.name === 'KafkaJSProtocolError' && k.type === 'UNKNOWN_TOPIC_OR_PARTITION') return true;
  }
  return false;
}

/**
 * Turns anything kafkajs (or the network) throws into an {@link EventLogError}. Never throws.
 * Connection problems, timeouts and a group coordinator on the move are retriable; protocol
 * errors keep the broker's own retriable flag; anything else is treated as a rejection.
 */
export function classifyKafkaError(err: unknown, context: string): EventLogError {
  if (err instanceof EventLogError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as KafkaJsLikeError;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const detail = typeof e.message === 'string' ? e.message : String(err);
  // Checked before the names of unavailability: kafkajs marks UNKNOWN_TOPIC_OR_PARTITION retriable
  // (metadata may lag a new topic), so once its own retries ran out the missing topic arrives
  // wrapped in a KafkaJSNumberOfRetriesExceeded, which alone would read as "unavailable".
  if (isTopicMissing(err)) {
    return new EventLogError('SHARDSYNC_EVENTLOG_TOPIC_MISSING', `${context}: the topic does not exist (${detail}); create it with "shardsync init" (the producer and the consumers also create it when they start)`, { retriable: false, cause: err });
  }
  if (UNAVAILABLE.has(name) || /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE/.test(detail)) {
    return new EventLogError('SHARDSYNC_EVENTLOG_UNAVAILABLE', `${context}: Kafka is unavailable (${name}: ${detail})`, { retriable: true, cause: err });
  }
  // Checked before the flag: kafkajs marks "no coordinator found" as not retriable, and wraps
  // errors in ones that are not, though a moment later the group operation succeeds.
  if (isCoordinatorMoving(err)) {
    return new EventLogError('SHARDSYNC_EVENTLOG_UNAVAILABLE', `${context}: Kafka's group coordinator is moving or loading; try again shortly (${name}: ${detail})`, { retriable: true, cause: err });
  }
  const retriable = e.retriable === true;
  return new EventLogError(retriable ? 'SHARDSYNC_EVENTLOG_UNAVAILABLE' : 'SHARDSYNC_EVENTLOG_REJECTED', `${context}: ${name}: ${detail}`, { retriable, cause: err });
}
