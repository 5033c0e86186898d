/** Stable codes for every failure of the local stack, so scripts and tests can match on them. */
export type InfraErrorCode =
  /** `java` is not on PATH or is older than the servers need. */
  | 'SHARDSYNC_INFRA_JAVA_MISSING'
  /** `mvn` is not on PATH. */
  | 'SHARDSYNC_INFRA_MVN_MISSING'
  /** `redis-server` is needed (no Redis answers) but not on PATH. */
  | 'SHARDSYNC_INFRA_REDIS_MISSING'
  /** Maven could not fetch the server jars. */
  | 'SHARDSYNC_INFRA_FETCH_FAILED'
  /** A server process could not be started, or exited while starting. */
  | 'SHARDSYNC_INFRA_START_FAILED'
  /** A server process runs but did not answer before the deadline. */
  | 'SHARDSYNC_INFRA_NOT_READY'
  /** A port the topology gives to one of our servers is taken by another program. */
  | 'SHARDSYNC_INFRA_PORT_IN_USE'
  /** A server of the stack runs on other ports than the topology now says (its ports were moved while it ran). */
  | 'SHARDSYNC_INFRA_PORT_MOVED'
  /** Redis would evict keys under memory pressure, which loses queued jobs. */
  | 'SHARDSYNC_INFRA_REDIS_POLICY'
  /** A server name that is neither kafka, redis nor a datacenter of the topology. */
  | 'SHARDSYNC_INFRA_UNKNOWN_SERVER'
  /** Another stack command has held a server's start/stop lock for longer than a start and a stop may take. */
  | 'SHARDSYNC_INFRA_BUSY'
  /** A server process survived SIGKILL. */
  | 'SHARDSYNC_INFRA_STOP_FAILED'
  /** The datacenter bucket could not be created. */
  | 'SHARDSYNC_INFRA_BUCKET_FAILED'
  /** An option or SHARDSYNC_* variable of the stack has an invalid value. */
  | 'SHARDSYNC_INFRA_CONFIG'
  /** Wrong command line. */
  | 'SHARDSYNC_INFRA_USAGE';

const RETRIABLE: ReadonlySet<InfraErrorCode> = new Set(['SHARDSYNC_INFRA_FETCH_FAILED', 'SHARDSYNC_INFRA_NOT_READY', 'SHARDSYNC_INFRA_BUCKET_FAILED']);

/**
 * A failure of the local stack. The message says what was wrong and what to do; `logTail` holds
 * the last lines of the server's log when the server itself failed.
 */
export class InfraError extends Error {
  readonly code: InfraErrorCode;
  /** Whether trying the same operation again may succeed without a change by the operator. */
  readonly retriable: boolean;
  readonly logTail: string | undefined;

  constructor(code: InfraErrorCode, message: string, options: { cause?: unknown; logTail?: string } = {}) {
    super(options.logTail === undefined ? message : `${message}\n--- last lines of the log ---\n${options.logTail}`, { cause: options.cause });
    this.name = 'InfraError';
    this.code = code;
    this.retriable = RETRIABLE.has(code);
    this.logTail = options.logTail;
  }
}

export function isInfraError(error: unknown): error is InfraError {
  return error instanceof InfraError;
}

/** A one-line description of any thrown value, for messages that wrap it. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}
