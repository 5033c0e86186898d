/** Stable codes for every failure of the event contract, so callers and scripts can match on them. */
export type EventsErrorCode =
  | 'SHARDSYNC_UNDECODABLE_EVENT'
  | 'SHARDSYNC_UNKNOWN_SCHEMA'
  | 'SHARDSYNC_INCOMPATIBLE_SCHEMA'
  | 'SHARDSYNC_INVALID_EVENT'
  | 'SHARDSYNC_INVALID_KEY'
  | 'SHARDSYNC_INVALID_VERSION'
  | 'SHARDSYNC_CLOCK_DRIFT';

/** Base class of every error this package throws. `retriable` says whether trying again can help. */
export class EventsError extends Error {
  readonly code: EventsErrorCode;
  readonly retriable: boolean;

  constructor(code: EventsErrorCode, message: string, options: { retriable: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = 'EventsError';
    this.code = code;
    this.retriable = options.retriable;
  }
}

/**
 * The message bytes or headers cannot be turned into a ShardUpdate (corrupt, truncated, not
 * Avro, missing schema header). Not retriable: the same bytes fail the same way, so the consumer
 * dead-letters the message.
 */
export class UndecodableEventError extends EventsError {
  constructor(message: string, cause?: unknown) {
    super('SHARDSYNC_UNDECODABLE_EVENT', message, { retriable: false, cause });
    this.name = 'UndecodableEventError';
  }
}

/**
 * The message was written with a schema this build does not know, typically by a newer producer.
 * Not retriable here: the consumer dead-letters it, and replays the dead letters after upgrading.
 */
export class UnknownSchemaError extends EventsError {
  readonly fingerprint: string;

  constructor(fingerprint: string, knownCount: number) {
    super(
      'SHARDSYNC_UNKNOWN_SCHEMA',
      `event was written with unknown schema ${fingerprint} (this build knows ${knownCount}); deploy a consumer with a newer @shardsync/events, then replay the dead-letter topic`,
      { retriable: false },
    );
    this.name = 'UnknownSchemaError';
    this.fingerprint = fingerprint;
  }
}

/** A writer schema cannot be read by the current reader schema: the change was not backward compatible. */
export class IncompatibleSchemaError extends EventsError {
  constructor(message: string, cause?: unknown) {
    super('SHARDSYNC_INCOMPATIBLE_SCHEMA', message, { retriable: false, cause });
    this.name = 'IncompatibleSchemaError';
  }
}

/**
 * The event is well-formed Avro but breaks a rule of the contract (a PUT without sha256, a key
 * under the reserved prefix, ...). Not retriable. `problems` lists every broken rule, one per line.
 */
export class InvalidEventError extends EventsError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[], context = 'shard update') {
    super('SHARDSYNC_INVALID_EVENT', `invalid ${context}:\n  - ${problems.join('\n  - ')}`, { retriable: false });
    this.name = 'InvalidEventError';
    this.problems = problems;
  }
}

/** Why a key or dataset name was refused; stable strings so an API can return them. */
export type KeyProblem =
  | 'empty'
  | 'too-long'
  | 'leading-slash'
  | 'backslash'
  | 'empty-segment'
  | 'dot-segment'
  | 'dot-dot-segment'
  | 'control-character'
  | 'invalid-unicode'
  | 'not-nfc'
  | 'reserved-prefix'
  | 'invalid-dataset-name';

/** An object key or dataset name was refused. The message names the rule and what to do. */
export class InvalidKeyError extends EventsError {
  readonly reason: KeyProblem;

  constructor(reason: KeyProblem, message: string) {
    super('SHARDSYNC_INVALID_KEY', message, { retriable: false });
    this.name = 'InvalidKeyError';
    this.reason = reason;
  }
}

/** A version (or its string form) is malformed. */
export class InvalidVersionError extends EventsError {
  constructor(message: string) {
    super('SHARDSYNC_INVALID_VERSION', message, { retriable: false });
    this.name = 'InvalidVersionError';
  }
}

/**
 * A version from elsewhere claims a physical time too far ahead of the local clock. Not
 * retriable: waiting rarely helps within a retry budget; an operator must fix the skewed clock.
 */
export class ClockDriftError extends EventsError {
  readonly aheadByMs: number;

  constructor(message: string, aheadByMs: number) {
    super('SHARDSYNC_CLOCK_DRIFT', message, { retriable: false });
    this.name = 'ClockDriftError';
    this.aheadByMs = aheadByMs;
  }
}
