import { hasRetriableFailure, mergeRetriedOutcome, reconcileKeys, type KeyOutcome, type ReconcileContext } from '@shardsync/reconcile';
import { WaitingChildrenError, type Job } from 'bullmq';
import { contextFor, throwIfCut, type JobDeps } from './deps.js';
import { JOB, repairJobId, type RangeJobData, type RangeResult, type RepairJobData } from './types.js';

/**
 * A range job: reads, decides and repairs its slice of a pass's divergent keys. Keys whose repair
 * failed with a retriable error (a store down, a key that kept changing) become repair jobs with
 * attempts and exponential backoff; the range waits for them and reports the merged outcome.
 *
 * BullMQ delivers a job at least once (a worker whose lock lapsed, or that died before moving the
 * job on, has it run again), so the outcomes are stored in the job before they are counted, and a
 * later run reuses them: the keys are counted at most once, and a run after a failure between the
 * two steps still adds the repair jobs.
 */
export async function processRange(job: Job<RangeJobData, RangeResult>, token: string | undefined, deps: JobDeps): Promise<RangeResult> {
  const { passId, request, range } = job.data;
  const ctx = contextFor(deps, request, passId);
  const outcomes = job.data.outcomes ?? (await handleKeys(job, ctx, deps));
  const retry = ctx.dryRun ? [] : outcomes.filter(hasRetriableFailure);
  if (retry.length === 0) return { index: range.index, outcomes };
  if (job.data.repairsAdded !== true) await addRepairs(job, retry, deps);
  if (token !== undefined && (await job.moveToWaitingChildren(token))) throw new WaitingChildrenError();
  const retried = new Map(Object.values(await job.getChildrenValues<KeyOutcome>()).map((o) => [o.key, o]));
  return { index: range.index, outcomes: outcomes.map((o) => mergeRetry(o, retried.get(o.key))) };
}

/** Reads, decides and repairs the range's keys, stores the outcomes in the job, then counts them. */
async function handleKeys(job: Job<RangeJobData, RangeResult>, ctx: ReconcileContext, deps: JobDeps): Promise<readonly KeyOutcome[]> {
  const outcomes = await reconcileKeys(ctx, job.data.range.keys);
  throwIfCut(deps, `range ${job.data.range.index} of pass ${job.data.passId}`);
  await job.updateData({ ...job.data, outcomes });
  for (const outcome of outcomes) deps.metrics.recordKey(ctx.dataset, outcome);
  return outcomes;
}

/**
 * Adds a repair job per key to retry, as children of the range; then marks them added, so that the
 * range's run once they are done (and removed) does not add them again. Job ids are per pass and
 * key, so a run that stopped before the mark adds none of the still pending ones twice.
 */
async function addRepairs(job: Job<RangeJobData, RangeResult>, retry: readonly KeyOutcome[], deps: JobDeps): Promise<void> {
  const { passId, request } = job.data;
  const parent = { id: job.id ?? '', queue: job.queueQualifiedName };
  await deps.queue.addBulk(
    retry.map((o) => ({
      name: JOB.repair,
      data: { passId, request, key: o.key } satisfies RepairJobData,
      opts: {
        jobId: repairJobId(passId, o.key),
        parent,
        ignoreDependencyOnFailure: true,
        attempts: deps.env.SHARDSYNC_RECONCILER_REPAIR_ATTEMPTS,
        backoff: { type: 'exponential', delay: deps.env.SHARDSYNC_RECONCILER_REPAIR_BACKOFF_MS },
        removeOnComplete: true,
        removeOnFail: { count: 1000 },
      },
    })),
  );
  await job.updateData({ ...job.data, repairsAdded: true });
}

function mergeRetry(first: KeyOutcome, retry: KeyOutcome | undefined): KeyOutcome {
  return retry === undefined ? first : mergeRetriedOutcome(first, retry);
}
