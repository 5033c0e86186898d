import type { Logger } from '@shardsync/runtime';
import { LocalStoreError } from './errors.js';

/**
 * Logs one failed attempt that will be retried. A failure of this datacenter's own store (its
 * bucket missing, access refused, any failure that is not the event's fault) may wait for an
 * operator, so it is an error whose message names the datacenter and the bucket, with the cause;
 * anything else is a warning carrying the error.
 */
export function logRetry(logger: Logger, err: unknown, fields: Record<string, unknown>, message: string): void {
  if (err instanceof LocalStoreError) {
    const cause = err.cause instanceof Error ? err.cause.message : undefined;
    logger.error({ ...fields, code: err.code, bucket: err.bucket, cause }, err.message);
    return;
  }
  logger.warn({ ...fields, err }, message);
}
