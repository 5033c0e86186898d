import type { Logger } from '@shardsync/runtime';
import { LocalAccessDeniedError, LocalBucketMissingError } from './errors.js';

/**
 * Logs one failed attempt that will be retried. A missing bucket of this datacenter, or access to
 * it refused, waits for an operator, so it is an error whose message names the datacenter and the
 * bucket; anything else is a warning carrying the error.
 */
export function logRetry(logger: Logger, err: unknown, fields: Record<string, unknown>, message: string): void {
  if (err instanceof LocalBucketMissingError || err instanceof LocalAccessDeniedError) {
    const cause = err.cause instanceof Error ? err.cause.message : undefined;
    logger.error({ ...fields, code: err.code, bucket: err.bucket, cause }, err.message);
    return;
  }
  logger.warn({ ...fields, err }, message);
}
