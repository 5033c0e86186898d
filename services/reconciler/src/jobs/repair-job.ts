import { hasRetriableFailure, reconcileKey, type KeyOutcome } from '@shardsync/reconcile';
import type { Job } from 'bullmq';
import { contextFor, throwIfCut, type JobDeps } from './deps.js';
import type { RepairJobData } from './types.js';

/** Thrown to have BullMQ try a key again after its backoff. */
class RetryLaterError extends Error {
  override readonly name = 'RetryLaterError';
}

/**
 * Reads one key in every datacenter afresh (two HEADs each: the pass's listing is old by now),
 * decides and repairs it. A retriable failure is thrown so that BullMQ retries with backoff,
 * except on the last attempt, whose outcome (with its failure) is returned for the report.
 */
export async function processRepair(job: Job<RepairJobData, KeyOutcome>, deps: JobDeps): Promise<KeyOutcome> {
  const { passId, request, key } = job.data;
  const outcome = await reconcileKey(contextFor(deps, request, passId), key);
  throwIfCut(deps, `repair of ${request.dataset}/${key}`);
  const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  if (hasRetriableFailure(outcome) && !lastAttempt) {
    const failures = Object.entries(outcome.copies).flatMap(([dc, c]) => (c.failure === undefined ? [] : [`${dc}: ${c.failure.code} ${c.failure.message}`]));
    throw new RetryLaterError(`repair of ${request.dataset}/${key} failed, will retry: ${failures.join('; ')}`);
  }
  deps.metrics.recordKey(request.dataset, outcome, { countFound: false });
  return outcome;
}
