import type { KeyOutcome } from '@shardsync/reconcile';
import { DelayedError, WaitingChildrenError, WaitingError, type Job } from 'bullmq';
import type { JobDeps } from './deps.js';
import { processPass, releaseIfFailedForGood } from './pass-job.js';
import { processRange } from './range-job.js';
import { processRepair } from './repair-job.js';
import { processStagingGc } from './staging-job.js';
import { JOB, type PassJobData, type PassResult, type RangeJobData, type RangeResult, type RepairJobData, type StagingGcJobData, type StagingGcResult } from './types.js';

/** The worker's processor: dispatches on the job name, counts and logs outcomes. */
export function createProcessor(deps: JobDeps): (job: Job<unknown, unknown>, token?: string) => Promise<unknown> {
  return async (job, token) => {
    try {
      const result = await run(job, token, deps);
      deps.metrics.jobs.inc({ name: job.name, result: 'completed' });
      return result;
    } catch (err) {
      if (err instanceof WaitingChildrenError || err instanceof DelayedError) {
        // Moved on by the job itself (to wait for its children, or deferred): not a failure.
        deps.metrics.jobs.inc({ name: job.name, result: err instanceof DelayedError ? 'deferred' : 'waiting-children' });
      } else if (token !== undefined && cutByShutdown(err, deps.signal)) {
        // Cut short by this instance's shutdown, not failed: back to the queue without using up
        // one of its attempts (a pass cut short three times by rolling restarts failed for good).
        try {
          await job.moveToWait(token);
        } catch (moveErr) {
          // Its lock lost (another worker took it over): BullMQ refuses any state change from here.
          deps.logger.warn({ err, moveErr, job: job.name, jobId: job.id }, 'reconciler job cut short by shutdown could not be queued again');
          throw err;
        }
        deps.metrics.jobs.inc({ name: job.name, result: 'interrupted' });
        deps.logger.info({ job: job.name, jobId: job.id }, 'reconciler job cut short by shutdown; queued again for another instance');
        throw new WaitingError();
      } else {
        deps.metrics.jobs.inc({ name: job.name, result: 'failed' });
        deps.logger.warn({ err, job: job.name, jobId: job.id, attemptsMade: job.attemptsMade }, 'reconciler job failed');
        if (job.name === JOB.pass) await releaseIfFailedForGood(job as Job<PassJobData, PassResult>, deps);
      }
      throw err;
    }
  };
}

/** Codes of the errors an aborted signal turns into: the reconcile package's and the object store's. */
const ABORT_CODES = new Set(['SHARDSYNC_RECONCILE_ABORTED', 'SHARDSYNC_STORE_ABORTED']);

/**
 * Whether `err` is the shutdown's abort (somewhere in its cause chain), not a failure of the job's
 * own that merely happened while the instance was closing: that one fails as usual, using up an
 * attempt and waiting its backoff, instead of going straight back to the queue.
 */
export function cutByShutdown(err: unknown, signal: AbortSignal): boolean {
  if (!signal.aborted) return false;
  const seen = new Set<unknown>();
  for (let e: unknown = err; typeof e === 'object' && e !== null && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    if (e === signal.reason) return true;
    const { code, name } = e as { code?: unknown; name?: unknown };
    if ((typeof code === 'string' && ABORT_CODES.has(code)) || name === 'AbortError') return true;
  }
  return false;
}

function run(job: Job<unknown, unknown>, token: string | undefined, deps: JobDeps): Promise<unknown> {
  switch (job.name) {
    case JOB.pass:
      return processPass(job as Job<PassJobData, PassResult>, token, deps);
    case JOB.range:
      return processRange(job as Job<RangeJobData, RangeResult>, token, deps);
    case JOB.repair:
      return processRepair(job as Job<RepairJobData, KeyOutcome>, deps);
    case JOB.stagingGc:
      return processStagingGc(job as Job<StagingGcJobData, StagingGcResult>, deps);
    default:
      throw new Error(`unknown reconciler job ${JSON.stringify(job.name)}; is an instance of another version sharing the queue?`);
  }
}
