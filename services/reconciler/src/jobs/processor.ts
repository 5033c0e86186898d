import type { KeyOutcome } from '@shardsync/reconcile';
import { WaitingChildrenError, WaitingError, type Job } from 'bullmq';
import type { JobDeps } from './deps.js';
import { processPass } from './pass-job.js';
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
      if (err instanceof WaitingChildrenError) {
        deps.metrics.jobs.inc({ name: job.name, result: 'waiting-children' });
      } else if (deps.signal.aborted && token !== undefined) {
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
      }
      throw err;
    }
  };
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
