/** Stable codes of the failures the CLI itself reports; other packages' errors keep their own codes. */
export type CliErrorCode =
  | 'SHARDSYNC_CLI_USAGE'
  | 'SHARDSYNC_CLI_INVALID_ARGUMENT'
  | 'SHARDSYNC_CLI_NOT_AVAILABLE'
  | 'SHARDSYNC_CLI_TIMEOUT'
  | 'SHARDSYNC_CLI_CONFLICT'
  | 'SHARDSYNC_CLI_INTERRUPTED'
  | 'SHARDSYNC_CLI_FAILED';

/**
 * A failure of a `shardsync` command. `hint` tells the operator what to do next; it is printed
 * under the message and included in `--json` errors.
 */
export class CliError extends Error {
  readonly code: CliErrorCode;
  readonly retriable: boolean;
  readonly hint: string | undefined;

  constructor(code: CliErrorCode, message: string, options: { retriable?: boolean; hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'CliError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.hint = options.hint;
  }
}

/** Arguments that cannot work (a unit that does not parse, an unknown datacenter, ...). The message names the option. */
export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super('SHARDSYNC_CLI_USAGE', message, hint === undefined ? {} : { hint });
    this.name = 'UsageError';
  }
}

/** A value given to an option does not parse; the message names the option, the value and an example. */
export class InvalidArgumentError extends CliError {
  readonly option: string;

  constructor(option: string, message: string) {
    super('SHARDSYNC_CLI_INVALID_ARGUMENT', `${option}: ${message}`);
    this.name = 'InvalidArgumentError';
    this.option = option;
  }
}

/**
 * The operator interrupted the command (Ctrl-C, SIGTERM) before it finished. The message says what
 * stays done; the hint how to continue.
 */
export class InterruptedError extends CliError {
  constructor(message: string, hint?: string) {
    super('SHARDSYNC_CLI_INTERRUPTED', message, hint === undefined ? { retriable: true } : { retriable: true, hint });
    this.name = 'InterruptedError';
  }
}

/** A failure as the CLI prints it: never throws, whatever was thrown. */
export interface DescribedError {
  readonly code: string;
  readonly message: string;
  readonly retriable: boolean;
  readonly hint?: string | undefined;
}

/** Where the servers are, so hints can name them. */
export interface HintContext {
  readonly topologyFile?: string | undefined;
  readonly brokers?: readonly string[] | undefined;
  /** Where the brokers come from when not from the file (the environment override that set them). */
  readonly brokersFrom?: string | undefined;
}

function hintFor(code: string, context: HintContext): string | undefined {
  const where = context.topologyFile === undefined ? 'the topology' : context.topologyFile;
  switch (code) {
    case 'SHARDSYNC_EVENTLOG_UNAVAILABLE':
      return `check that Kafka answers at ${context.brokers?.join(', ') ?? 'kafka.brokers'} (from ${context.brokersFrom ?? where}); for the local stack: npm run stack:status`;
    case 'SHARDSYNC_EVENTLOG_TOPIC_MISSING':
      return 'create the topics with: shardsync init';
    case 'SHARDSYNC_NO_SUCH_BUCKET':
      return 'create the buckets with: shardsync init';
    case 'SHARDSYNC_STORE_UNAVAILABLE':
      return `check that the datacenter's S3 endpoint answers (its s3.endpoint in ${where}, unless SHARDSYNC_DC_<NAME>_S3_ENDPOINT overrides it); for the local stack: npm run stack:status`;
    case 'SHARDSYNC_ACCESS_DENIED':
      return "check the credentials the datacenter's `s3.credentials` names";
    case 'SHARDSYNC_CONFIG_NOT_FOUND':
      return 'pass --topology <file>, set SHARDSYNC_TOPOLOGY, or run from the repository root';
    default:
      return undefined;
  }
}

/**
 * Turns anything thrown into what the CLI prints: the stable `code` of shardsync errors (every
 * package's errors carry one), their message, and a hint. Never throws.
 */
export function describeError(err: unknown, context: HintContext = {}): DescribedError {
  if (typeof err === 'object' && err !== null) {
    const { code, message, retriable, hint } = err as { code?: unknown; message?: unknown; retriable?: unknown; hint?: unknown };
    const stable = typeof code === 'string' && code.startsWith('SHARDSYNC_') ? code : 'SHARDSYNC_CLI_FAILED';
    const text = typeof message === 'string' && message !== '' ? message : JSON.stringify(err);
    return {
      code: stable,
      message: text,
      retriable: retriable === true,
      hint: typeof hint === 'string' ? hint : hintFor(stable, context),
    };
  }
  return { code: 'SHARDSYNC_CLI_FAILED', message: String(err), retriable: false };
}
