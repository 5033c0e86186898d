import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { redactRedisUrl } from '@shardsync/config';
import { CLI_HOLDER_PREFIX, createPassLock, passLockKey, type PassLock } from '@shardsync/reconcile';
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
 * @param ignore run without the lock (`--ignore-pass-lock`): for a holder known to be gone
 *   (a pass job that failed without releasing it is taken over by the next scheduled pass).
 */
export async function passLeases(ctx: CliContext, ignore: boolean): Promise<PassLeases> {
  const warnings: string[] = [];
  let redis: Redis | undefined;
  let lock: PassLock | undefined;
  if (!ignore) {
    try {
      redis = await connectRedis(ctx.topology.redis.url);
      // The CLI cannot see the reconciler's queue: every holder counts as running.
      lock = createPassLock(redis, reconcilerPrefix(ctx.env), async () => true);
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
        let running: string | null;
        try {
          running = await redis.get(passLockKey(reconcilerPrefix(ctx.env), dataset));
        } catch {
          return; // holding() takes the lock or says why not
        }
        if (running !== null) throw heldBy(dataset, running);
      }
    },
    async holding(dataset, work) {
      if (lock === undefined) return work();
      let running: string | undefined;
      try {
        running = await lock.lease(dataset, holder, PASS_LEASE_MS);
      } catch (err) {
        warnings.push(`dataset ${dataset}: the pass lock could not be taken (${describeError(err).message}); the pass ran without it`);
        return work();
      }
      if (running !== undefined) throw heldBy(dataset, running);
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
    close: () => disconnectRedis(redis),
  };
}

function heldBy(dataset: string, holder: string): CliError {
  const what = holder.startsWith(CLI_HOLDER_PREFIX) ? `another shardsync CLI run (${holder})` : `the reconciler's pass job ${holder}`;
  return new CliError('SHARDSYNC_CLI_CONFLICT', `a pass of dataset ${dataset} is already running: ${what} holds its pass lock`, {
    retriable: true,
    hint: 'wait for it to finish (shardsync status shows the last pass), or, if no pass is running (a pass job that failed without releasing it), rerun with --ignore-pass-lock',
  });
}
