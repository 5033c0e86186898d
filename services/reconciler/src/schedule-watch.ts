import type { Topology } from '@shardsync/config';
import type { Logger } from '@shardsync/runtime';
import type { Queue } from 'bullmq';
import type { ReconcilerEnv } from './env.js';
import type { ReconcilerMetrics } from './metrics.js';
import { restoreStoppedSchedules, wantedSchedules } from './schedule.js';

/**
 * Checks every SHARDSYNC_RECONCILER_SCHEDULE_CHECK_MS that the schedules this instance keeps still
 * advance, and restores those that stopped. BullMQ itself never does: a scheduler whose worker
 * failed to add its next job stays stopped until something upserts it again (before, the next
 * restart of an instance), so its passes stopped silently. Every scheduling instance checks;
 * two restoring one schedule at once still leave one next job (upserts are idempotent).
 * Answers a function that stops the checks.
 */
export function watchSchedules(queue: Queue, topology: Topology, env: ReconcilerEnv, metrics: ReconcilerMetrics, logger: Logger): () => void {
  const wanted = wantedSchedules(topology, env);
  const intervalMs = env.SHARDSYNC_RECONCILER_SCHEDULE_CHECK_MS;
  let checking = false;
  const check = async (): Promise<void> => {
    if (checking) return; // a slow Redis: never two checks at once
    checking = true;
    try {
      for (const scheduler of await restoreStoppedSchedules(queue, wanted, intervalMs)) {
        metrics.schedulesRestored.inc({ scheduler });
        logger.error({ scheduler }, 'a schedule had stopped (BullMQ added no next job for it; see the worker error logged before); restored');
      }
    } catch (err) {
      logger.warn({ err }, 'the schedules could not be checked; trying again at the next check');
    } finally {
      checking = false;
    }
  };
  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
