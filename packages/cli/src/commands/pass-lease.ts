import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { redactRedisUrl } from '@shardsync/config';
import { CLI_HOLDER_PREFIX, createPassLock, passLockKey, type HolderRunning, type PassLock } from '@shardsync/reconcile';
import { holderRunningWithWorkers, QUEUE_NAME } from '@shardsync/reconcile-queue';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CliContext } from '../context.js';
import { CliError, describeError } from '../errors.js';
import { connectRedis, disconnectRedis, reconcilerPrefix } from './redis.js';

/**
 * How long a CLI pass holds its dataset without extending the lease: a CLI killed mid-pass frees
 * the dataset for the scheduled passes within this. Extended every third of it while it runs.
 */
export const PASS_LEASE_MS = 60_000;

/** What holding the pass locks around a CLI run left to say. */
export interface PassLeases {
  /**
   * Throws SHARDSYNC_CLI_CONFLICT if another pass holds the lock of one of `datasets`: checked
   * before the first pass, so a run over several datasets does not stop half-way.
   */
  assertFree(datasets: readonly string[]): Promise<void>;
  /** Runs `work` holding `dataset`'s pass lock (see `createPassLock` in @shardsync/reconcile). */
  holding<T>(dataset: string, work: () => Promise<T>): Promise<T>;
  /** Why some passes ran without the lock, if any did (Redis down, the lease lost mid-pass). */
  readonly warnings: readonly string[];
  close(): Promise<void>;
}

/**
 * The pass locks of a CLI run that repairs (`reconcile`, `bootstrap`): one pass of a dataset at a
 * time, whether the reconciler service scheduled it or an operator started it. A dataset whose
 * lock another pass holds is refused (SHARDSYNC_CLI_CONFLICT); Redis being down is not a reason
 * to refuse a repair, so the pass then runs without the lock, with a warning.
 *
 * A lock held by a pass job of the reconciler's queue is taken over when that job does not run:
 * it is gone, finished, or waits for a worker while no reconciler is connected to the queue (the
 * reconciler stopped while it ran; see `holderRunningWithWorkers`).
 *
 * @param ignore run without the lock (`--ignore-pass-lock`): for a holder known to be gone that
 *   still looks alive from here.
 */
export async function passLeases(ctx: CliContext, ignore: boolean): Promise<PassLeases> {
  const warnings: string[] = [];
  const prefix = reconcilerPrefix(ctx.env);
  let redis: Redis | undefined;
  let queue: Queue | undefined;
  let lock: PassLock | undefined;
  let running: HolderRunning = async () => true;
  if (!ignore) {
    try {
      redis = await connectRedis(ctx.topology.redis.url);
      queue = new Queue(QUEUE_NAME, { connection: redis, prefix });
      running = runningOrUnknown(holderRunningWithWorkers(queue));
      lock = createPassLock(redis, prefix, running);
    } catch (err) {
      warnings.push(`the pass lock could not be taken (Redis at ${redactRedisUrl(ctx.topology.redis.url)}: ${describeError(err).message}); the passes ran without it`);
    }
  }
  const holder = `${CLI_HOLDER_PREFIX}${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  return {
    warnings,
    async assertFree(datasets) {
      if (redis === undefined) return;
      for (const dataset of datasets) {
        let current: string | null;
        try {
          current = await redis.get(passLockKey(prefix, dataset));
        } catch {
          return; // holding() takes the lock or says why not
        }
        // As the lock itself judges a holder: a CLI run's lease always counts, a pass job only while it runs.
        if (current !== null && (current.startsWith(CLI_HOLDER_PREFIX) || (await running(current, dataset)))) throw heldBy(dataset, current);
      }
    },
    async holding(dataset, work) {
      if (lock === undefined || redis === undefined) return work();
      let other: string | undefined;
      let before: string | null = null;
      try {
        before = await redis.get(passLockKey(prefix, dataset));
        other = await lock.lease(dataset, holder, PASS_LEASE_MS);
      } catch (err) {
        warnings.push(`dataset ${dataset}: the pass lock could not be taken (${describeError(err).message}); the pass ran without it`);
        return work();
      }
      if (other !== undefined) throw heldBy(dataset, other);
      if (before !== null && !before.startsWith(CLI_HOLDER_PREFIX)) {
        warnings.push(`dataset ${dataset}: took the pass lock over from the reconciler's pass job ${before}, which no connected reconciler is running (it skips its pass if it runs again while this one holds the lock)`);
      }
      const owned = lock;
      let lost = false;
      const extend = setInterval(() => {
        void owned.extend(dataset, holder, PASS_LEASE_MS).then(
          (ok) => {
            if (!ok && !lost) {
              lost = true;
              warnings.push(`dataset ${dataset}: the pass lock expired mid-pass (Redis unreachable for over ${PASS_LEASE_MS / 1000} s?); the rest of the pass ran without it`);
            }
          },
          () => undefined, // Redis briefly unreachable: the next extension tries again.
        );
      }, PASS_LEASE_MS / 3);
      try {
        return await work();
      } finally {
        clearInterval(extend);
        await owned.release(dataset, holder).catch(() => undefined); // expires by itself otherwise
      }
    },
    async close() {
      await queue?.close().catch(() => undefined);
      await disconnectRedis(redis);
    },
  };
}

/**
 * A holder whose state cannot be read (Redis failing mid-way, a server refusing CLIENT LIST)
 * counts as running: the operator then gets the conflict and `--ignore-pass-lock`, never two passes.
 */
function runningOrUnknown(running: HolderRunning): HolderRunning {
  return async (holder, dataset) => {
    try {
      return await running(holder, dataset);
    } catch {
      return true;
    }
  };
}

function heldBy(dataset: string, holder: string): CliError {
  const what = holder.startsWith(CLI_HOLDER_PREFIX) ? `another shardsync CLI run (${holder})` : `the reconciler's pass job ${holder}`;
  return new CliError('SHARDSYNC_CLI_CONFLICT', `a pass of dataset ${dataset} is already running: ${what} holds its pass lock`, {
    retriable: true,
    hint: 'wait for it to finish (shardsync status shows the last pass); a pass job counts only while a reconciler is connected to run it, so --ignore-pass-lock is for a holder known to be gone (e.g. a reconciler that cannot reach this Redis any more)',
  });
}
