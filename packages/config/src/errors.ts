/** Stable codes for every configuration failure, so scripts can match on them. */
export type ConfigErrorCode =
  | 'SHARDSYNC_CONFIG_INVALID'
  | 'SHARDSYNC_CONFIG_NOT_FOUND'
  | 'SHARDSYNC_CONFIG_UNPARSABLE'
  | 'SHARDSYNC_CONFIG_MISSING_SECRET';

/**
 * A configuration problem found at start. Never retriable: the operator must fix the file or
 * the environment, and the message says which field and what is wrong.
 */
export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly retriable = false;
  /** One line per problem, each naming the field (`datacenters[1].s3.bucket: ...`). */
  readonly problems: readonly string[];

  constructor(code: ConfigErrorCode, message: string, problems: readonly string[] = [], options?: { cause?: unknown }) {
    super(problems.length > 0 ? `${message}\n  - ${problems.join('\n  - ')}` : message, options);
    this.name = 'ConfigError';
    this.code = code;
    this.problems = problems;
  }
}
