export type EventLogErrorCode =
  | 'SHARDSYNC_EVENTLOG_UNAVAILABLE'
  | 'SHARDSYNC_EVENTLOG_REJECTED'
  | 'SHARDSYNC_EVENTLOG_CLOSED'
  | 'SHARDSYNC_EVENTLOG_TOPIC_MISSING'
  | 'SHARDSYNC_EVENTLOG_AUTH_FAILED'
  | 'SHARDSYNC_EVENTLOG_TLS_FAILED';

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
  code?: unknown;
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

/** `err` and the errors it wraps (kafkajs' retrier wraps the last one in `cause`), outermost first. */
function* causeChain(err: unknown): Generator<KafkaJsLikeError> {
  for (let e: unknown = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth += 1) {
    yield e;
  }
}

/**
 * Node's codes for a broker certificate it could not verify (unknown CA, self-signed, expired,
 * another host's name) and for a TLS handshake that failed (`EPROTO`: a TLS client at a plaintext
 * listener, no common protocol version). kafkajs passes the socket error's code on in its
 * connection error.
 */
const TLS_FAILURE = /CERT|SELF_SIGNED|^EPROTO$|^ERR_SSL_|^ERR_TLS_/;

/**
 * A failure to secure or authenticate the connection: settings to fix, not an outage to wait out.
 * kafkajs retries connection errors and reports the last one wrapped, so the whole chain is read.
 */
function securityFailure(err: unknown, context: string): EventLogError | undefined {
  for (const e of causeChain(err)) {
    const detail = typeof e.message === 'string' ? e.message : '';
    if (e.name === 'KafkaJSSASLAuthenticationError') {
      return new EventLogError('SHARDSYNC_EVENTLOG_AUTH_FAILED', `${context}: Kafka refused the SASL authentication (${detail}); check kafka.sasl (mechanism, user name, password) against the broker's listener`, { retriable: false, cause: err });
    }
    if (e.name === 'KafkaJSConnectionError' && typeof e.code === 'string' && TLS_FAILURE.test(e.code)) {
      return new EventLogError('SHARDSYNC_EVENTLOG_TLS_FAILED', `${context}: the TLS connection to Kafka failed (${e.code}: ${detail}); check kafka.tls (the CA that signed the brokers' certificates, a broker address its certificate names) and that the brokers' listener speaks TLS`, { retriable: false, cause: err });
    }
  }
  return undefined;
}

/**
 * Turns anything kafkajs (or the network) throws into an {@link EventLogError}. Never throws.
 * Refused credentials and a TLS connection that cannot be verified are not retriable (settings to
 * fix); connection problems, timeouts and a group coordinator on the move are; protocol
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
  const insecure = securityFailure(err, context);
  if (insecure !== undefined) return insecure;
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
