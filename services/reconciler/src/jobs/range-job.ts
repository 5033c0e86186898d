import { hasRetriableFailure, mergeRetriedOutcome, reconcileKeys, type KeyOutcome } from '@shardsync/reconcile';
import { WaitingChildrenError, type Job } from 'bullmq';
import { contextFor, throwIfCut, type JobDeps } from './deps.js';
import { JOB, repairJobId, type RangeJobData, type RangeResult, type RepairJobData } from './types.js';

/**
 * A range job: reads, decides and repairs its slice of a pass's divergent keys. Keys whose repair
 * failed with a retriable error (a store down, a key that kept changing) become repair jobs with
 * attempts and exponential backoff; the range waits for them and reports the merged outcome.
 */
export async function processRange(job: Job<RangeJobData, RangeResult>, token: string | undefined, deps: JobDeps): Promise<RangeResult> {
  const { passId, request, range } = job.data;
  let outcomes = job.data.outcomes;
  if (outcomes === undefined) {
    const ctx = contextFor(deps, request, passId);
    outcomes = await reconcileKeys(ctx, range.keys);
    throwIfCut(deps, `range ${range.index} of pass ${passId}`);
    for (const outcome of outcomes) deps.metrics.recordKey(ctx.dataset, outcome);
    const retry = ctx.dryRun ? [] : outcomes.filter(hasRetriableFailure);
    if (retry.length === 0) return { index: range.index, outcomes };
    await job.updateData({ ...job.data, outcomes });
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
  }
  if (token !== undefined && (await job.moveToWaitingChildren(token))) throw new WaitingChildrenError();
  const retried = new Map(Object.values(await job.getChildrenValues<KeyOutcome>()).map((o) => [o.key, o]));
  return { index: range.index, outcomes: outcomes.map((o) => mergeRetry(o, retried.get(o.key))) };
}

function mergeRetry(first: KeyOutcome, retry: KeyOutcome | undefined): KeyOutcome {
  return retry === undefined ? first : mergeRetriedOutcome(first, retry);
}
