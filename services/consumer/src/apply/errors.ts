/** Stable codes of the consumer's own failures. */
export type ApplyErrorCode =
  | 'SHARDSYNC_SOURCE_UNAVAILABLE'
  | 'SHARDSYNC_SOURCE_MISSING'
  | 'SHARDSYNC_DIGEST_MISMATCH_ALL_SOURCES'
  | 'SHARDSYNC_UNKNOWN_DATASET'
  | 'SHARDSYNC_APPLY_CONFLICT';

/** An apply that failed; `retriable` decides between waiting and dead-lettering. */
export class ApplyError extends Error {
  readonly code: ApplyErrorCode;
  readonly retriable: boolean;

  constructor(code: ApplyErrorCode, message: string, options: { retriable: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = 'ApplyError';
    this.code = code;
    this.retriable = options.retriable;
  }
}

/** The stable code of any error, for dead-letter headers and metrics labels. */
export function codeOf(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'SHARDSYNC_UNEXPECTED';
}
