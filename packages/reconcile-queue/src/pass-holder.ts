import type { HolderRunning } from '@shardsync/reconcile';
import type { Job, Queue } from 'bullmq';

import { JOB } from './names.js';

/*
 * The pass lock itself (one pass of a dataset at a time, scheduled or run from the CLI) is in
 * @shardsync/reconcile (`createPassLock`); what a scheduled pass job holding it looks like while
 * it runs is the queue's business, here, shared by the reconciler and the CLI.
 */

/**
 * A pass holding the lock without running for this long (waiting for range jobs that never
 * report, or queued and never picked up) is presumed lost. An active one never is: BullMQ's
 * stall check takes a dead worker's job back.
 */
const STALE_PASS_MS = 24 * 3600 * 1000;

/** States of a pass job that will still go on: waiting for its ranges, or queued to run again. */
const GOING_ON = new Set(['waiting-children', 'waiting', 'prioritized', 'delayed']);

/**
 * {@link HolderRunning} over the queue's jobs: the holder is a pass job of the dataset that is
 * active, or that will go on and ran (or was queued) within the staleness limit. Its age counts
 * from when it last ran: a scheduled job is created one interval before it runs, so its creation
 * time would make a pass of a daily schedule look a day old as it starts.
 */
export function holderRunningIn(queue: Queue, passJobName: string = JOB.pass): HolderRunning {
  return async (jobId, dataset) => {
    const job = await queue.getJob(jobId);
    if (job === undefined || job.name !== passJobName || (job.data as { request?: { dataset?: unknown } }).request?.dataset !== dataset) return false;
    const state = await job.getState();
    if (state === 'active') return true;
    if (!GOING_ON.has(state)) return false;
    if (Date.now() - (job.processedOn ?? job.timestamp) < STALE_PASS_MS) return true;
    // The pass itself last ran long ago, but its ranges may still be repairing (a datacenter
    // refilled takes longer than a day): those will report, so it holds while one of them runs.
    return state === 'waiting-children' && (await rangeRunning(queue, job));
  };
}

/** Whether one of the pass's pending range jobs runs, or waits for its own repair jobs, or ran within the staleness limit. */
async function rangeRunning(queue: Queue, pass: Job): Promise<boolean> {
  const childPrefix = `${queue.qualifiedName}:`;
  let cursor = 0;
  do {
    const page = await pass.getDependencies({ unprocessed: { cursor, count: 100 } });
    for (const key of page.unprocessed ?? []) {
      if (!key.startsWith(childPrefix)) continue;
      const child = await queue.getJob(key.slice(childPrefix.length));
      if (child === undefined) continue;
      const state = await child.getState();
      if (state === 'active' || state === 'waiting-children') return true;
      if (child.processedOn !== undefined && Date.now() - child.processedOn < STALE_PASS_MS) return true;
    }
    cursor = page.nextUnprocessedCursor ?? 0;
  } while (cursor !== 0);
  return false;
}

/**
 * {@link HolderRunning} for a run outside the reconciler (the CLI): as {@link holderRunningIn},
 * and only while some reconciler worker is connected to the queue. A pass job waiting to run
 * again (cut short by a shutdown) or active on a worker that died runs again only once a worker
 * picks it up: with none connected (the reconciler stopped, e.g. to repair by hand), it holds the
 * dataset for nothing, and the CLI takes the lock over. A Redis that does not list its clients
 * (some managed services) counts as one worker, so the holder counts as running.
 */
export function holderRunningWithWorkers(queue: Queue, passJobName: string = JOB.pass): HolderRunning {
  const running = holderRunningIn(queue, passJobName);
  return async (jobId, dataset) => (await running(jobId, dataset)) && (await queue.getWorkersCount()) > 0;
}
