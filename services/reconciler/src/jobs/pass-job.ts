import { randomUUID } from 'node:crypto';
import { buildPassReport, CLI_HOLDER_PREFIX, recordPass, scanPass, splitIntoRanges, type PassRequest, type PassScanSummary } from '@shardsync/reconcile';
import { DelayedError, WaitingChildrenError, type Job } from 'bullmq';
import { allowedHere, contextFor, type JobDeps } from './deps.js';
import { JOB, rangeJobId, type PassJobData, type PassResult, type RangeJobData, type RangeResult } from './types.js';

/**
 * A pass job, in two steps (BullMQ's "process step jobs" pattern):
 *
 * 1. List and compare every datacenter, split the divergent keys into range jobs (children of
 *    this job) and wait for them. The scan summary is stored in the job's data.
 * 2. When every range reported (or failed for good), build the report, record it in the pass
 *    history, and finish.
 *
 * Everything stored in Redis here is derived from the stores: if Redis loses it, the next pass
 * lists and compares again and reaches the same answer.
 */
export async function processPass(job: Job<PassJobData, PassResult>, token: string | undefined, deps: JobDeps): Promise<PassResult> {
  const request = allowedHere(job.data.request, deps.env);
  if (request !== job.data.request) deps.logger.warn({ dataset: request.dataset, asked: job.data.request, runs: request }, "this pass's settings are more permissive than this instance's (another instance with other settings wrote the shared schedule); it runs as this instance's settings allow");
  let { passId, scan, rangeKeys } = job.data;
  // A run that stopped between recording its scan and adding the range jobs left no child to
  // wait for: compare again. One that stopped after adding them (before marking it) has
  // children, running or done, and waits for them as usual.
  if (scan !== undefined && job.data.rangesAdded !== true && !(await hasChildren(job))) scan = undefined;
  if (scan === undefined) {
    const running = await deps.passLock.claim(request.dataset, job.id ?? '');
    if (running !== undefined) return deferOrSkip(job, token, deps, request, running);
    const id = passId ?? randomUUID();
    if (passId === undefined) await job.updateData({ ...job.data, passId: id });
    passId = id;
    const ctx = contextFor(deps, request, id);
    const result = await scanPass(ctx);
    scan = result.summary;
    const ranges = splitIntoRanges(result.divergence.keys, deps.env.SHARDSYNC_RECONCILER_KEYS_PER_RANGE);
    rangeKeys = ranges.map((r) => r.keys.length);
    deps.logger.info({ dataset: request.dataset, passId: id, divergentKeys: scan.divergentKeys, ranges: ranges.length }, 'pass compared the datacenters');
    if (ranges.length > 0) {
      const parent = { id: job.id ?? '', queue: job.queueQualifiedName };
      // Data first, then the children, then the mark: a restart before the mark compares again
      // and adds the same job ids, which BullMQ ignores as duplicates.
      await job.updateData({ request, passId: id, scan, rangeKeys });
      await deps.queue.addBulk(
        ranges.map((range) => ({
          name: JOB.range,
          data: { passId: id, request, range } satisfies RangeJobData,
          opts: {
            jobId: rangeJobId(id, range.index),
            parent,
            ignoreDependencyOnFailure: true,
            attempts: 3,
            backoff: { type: 'exponential', delay: deps.env.SHARDSYNC_RECONCILER_REPAIR_BACKOFF_MS },
            removeOnComplete: true,
            removeOnFail: { count: 1000 },
          },
        })),
      );
      await job.updateData({ request, passId: id, scan, rangeKeys, rangesAdded: true });
    }
  }
  if (token !== undefined && (await job.moveToWaitingChildren(token))) throw new WaitingChildrenError();
  return finish(job, deps, passId ?? '', scan, rangeKeys ?? []);
}

/**
 * What a pass does when another pass of its dataset holds the lock. A routine pass is skipped: the
 * next one comes within an interval, and the running pass covers it. A deep pass is deferred
 * (back to the queue after SHARDSYNC_RECONCILER_DEFER_MS, without using up an attempt) until the
 * lock is free: deep passes are rare, and with a deep interval that is a multiple of the routine
 * one, both schedules fire at the same moment every deep interval, so a skipped deep pass that
 * lost that race would be lost again and again. It gives up (skipped) after one deep interval,
 * when the next deep pass of the schedule is due anyway.
 */
async function deferOrSkip(job: Job<PassJobData, PassResult>, token: string | undefined, deps: JobDeps, request: PassRequest, running: string): Promise<PassResult> {
  const { dataset } = request;
  const deferredSince = job.data.deferredSince ?? Date.now();
  const limitMs = deps.env.SHARDSYNC_RECONCILER_DEEP_INTERVAL_MS || deps.env.SHARDSYNC_RECONCILER_INTERVAL_MS;
  if (request.deep === true && token !== undefined && Date.now() - deferredSince < limitMs) {
    await job.updateData({ ...job.data, deferredSince });
    await job.moveToDelayed(Date.now() + deps.env.SHARDSYNC_RECONCILER_DEFER_MS, token);
    deps.logger.info({ dataset, running, retryInMs: deps.env.SHARDSYNC_RECONCILER_DEFER_MS }, 'a pass of this dataset is still running; this deep pass waits for it');
    deps.metrics.passes.inc({ dataset, mode: 'deep', result: 'deferred' });
    throw new DelayedError();
  }
  deps.logger.info({ dataset, running, deferredSince: job.data.deferredSince }, 'a pass of this dataset is still running; skipping this one');
  deps.metrics.passes.inc({ dataset, mode: request.deep === true ? 'deep' : 'routine', result: 'skipped' });
  return { passId: job.data.passId ?? '', dataset, skipped: running.startsWith(CLI_HOLDER_PREFIX) ? `a shardsync CLI pass (${running}) is still running` : `pass job ${running} is still running` };
}

async function finish(job: Job<PassJobData, PassResult>, deps: JobDeps, passId: string, scan: PassScanSummary, rangeKeys: readonly number[]): Promise<PassResult> {
  const results = Object.values(await job.getChildrenValues<RangeResult>());
  const reported = new Set(results.map((r) => r.index));
  const unprocessed = rangeKeys.reduce((sum, keys, index) => (reported.has(index) ? sum : sum + keys), 0);
  const report = buildPassReport(scan, results.flatMap((r) => r.outcomes), Date.now(), unprocessed);
  await recordPass(deps.redis, report, { ...deps.history, keep: deps.env.SHARDSYNC_RECONCILER_HISTORY_LENGTH });
  await deps.passLock.release(report.dataset, job.id ?? '');
  deps.metrics.recordPass(report);
  deps.logger.info(
    { dataset: report.dataset, passId, divergentKeys: report.divergentKeys, remaining: report.remaining, bytesMoved: report.bytesMoved, durationMs: report.durationMs, unprocessed },
    report.converged ? 'pass finished: the datacenters agree' : 'pass finished: divergence remains',
  );
  return { passId, dataset: report.dataset, divergentKeys: report.divergentKeys, remaining: report.remaining, converged: report.converged };
}

/**
 * Releases the dataset's pass lock held by a pass job that has just failed for the last time (no
 * attempt left), unless range jobs of it are still pending. Otherwise the lock stays with a failed
 * job until the next scheduled pass takes it over, and the CLI, which cannot see the queue,
 * refuses every `reconcile` or `bootstrap` of the dataset meanwhile: after a datacenter is lost,
 * every scheduled pass fails, so the repair meant to fix it would be refused for good.
 */
export async function releaseIfFailedForGood(job: Job<PassJobData, PassResult>, deps: JobDeps): Promise<void> {
  if (job.attemptsMade + 1 < (job.opts.attempts ?? 1)) return; // BullMQ retries it, holding the lock
  try {
    const counts = await job.getDependenciesCount({ unprocessed: true });
    if ((counts.unprocessed ?? 0) > 0) return; // its ranges still repair: the lock covers them
    await deps.passLock.release(job.data.request.dataset, job.id ?? '');
  } catch (err) {
    deps.logger.warn({ err, dataset: job.data.request.dataset, jobId: job.id }, 'the pass lock of a failed pass could not be released; the next scheduled pass takes it over');
  }
}

/** Whether the job has range jobs, pending or finished (their results stay with the parent). */
async function hasChildren(job: Job<PassJobData, PassResult>): Promise<boolean> {
  const counts = await job.getDependenciesCount();
  return Object.values(counts).some((n) => (n ?? 0) > 0);
}
