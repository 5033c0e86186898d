import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * One pass of a dataset at a time, across every reconciler instance sharing the queue.
 *
 * The holder is a pass job id stored under one Redis key per dataset. Taking the key is atomic
 * (SET NX, or a compare-and-set over a holder that is no longer running), so of two passes that
 * start together exactly one runs and the other skips; looking at the queue's running jobs and
 * then starting (check-then-act) let both see the other and both skip.
 *
 * The key has no expiry: a pass may wait for its range jobs for hours. Instead, a holder that is
 * no longer running (failed for good, completed without releasing, removed, or idle beyond the
 * staleness limit) is taken over, so a crashed pass never blocks its dataset for good.
 */
export interface PassLock {
  /** Takes the dataset's pass for `jobId`; answers undefined when it holds it, or the running holder's id. */
  claim(dataset: string, jobId: string): Promise<string | undefined>;
  /** Releases the dataset's pass if `jobId` holds it (a no-op otherwise). */
  release(dataset: string, jobId: string): Promise<void>;
}

/** Whether the pass job with this id still runs a pass of `dataset` (comparing, waiting for its ranges, or about to run again). */
export type HolderRunning = (jobId: string, dataset: string) => Promise<boolean>;

const REPLACE_IF = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end return 0`;
const DELETE_IF = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** Attempts at taking over from a holder that stopped before another contender takes the key first. */
const CLAIM_ROUNDS = 5;

export function createPassLock(redis: Redis, keyPrefix: string, holderRunning: HolderRunning): PassLock {
  const keyOf = (dataset: string): string => `${keyPrefix}:pass-lock:${dataset}`;
  return {
    async claim(dataset, jobId) {
      const key = keyOf(dataset);
      for (let round = 0; round < CLAIM_ROUNDS; round++) {
        if ((await redis.set(key, jobId, 'NX')) === 'OK') return undefined;
        const holder = await redis.get(key);
        if (holder === null) continue; // released meanwhile: try again
        if (holder === jobId) return undefined; // this job's own earlier attempt
        if (await holderRunning(holder, dataset)) return holder;
        if ((await redis.eval(REPLACE_IF, 1, key, holder, jobId)) === 1) return undefined;
        // Another contender took over first; look at the new holder.
      }
      return (await redis.get(key)) ?? 'another pass';
    },
    async release(dataset, jobId) {
      await redis.eval(DELETE_IF, 1, keyOf(dataset), jobId);
    },
  };
}

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
export function holderRunningIn(queue: Queue, passJobName: string): HolderRunning {
  return async (jobId, dataset) => {
    const job = await queue.getJob(jobId);
    if (job === undefined || job.name !== passJobName || (job.data as { request?: { dataset?: unknown } }).request?.dataset !== dataset) return false;
    const state = await job.getState();
    if (state === 'active') return true;
    return GOING_ON.has(state) && Date.now() - (job.processedOn ?? job.timestamp) < STALE_PASS_MS;
  };
}
