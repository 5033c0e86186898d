import type { Topology } from '@shardsync/config';
import type { Logger } from '@shardsync/runtime';
import type { JobsOptions, Queue } from 'bullmq';
import { scheduledRequest } from './jobs/deps.js';
import { JOB, schedulerId, stagingSchedulerId, type PassJobData, type StagingGcJobData } from './jobs/types.js';
import type { ReconcilerEnv } from './env.js';

/** The datasets this deployment reconciles: the configured list, checked against the topology, or all. */
export function datasetsToReconcile(topology: Topology, env: ReconcilerEnv): string[] {
  const known = topology.datasets.map((d) => d.name);
  const wanted = env.SHARDSYNC_RECONCILER_DATASETS;
  if (wanted.length === 0) return known;
  const unknown = wanted.filter((d) => !known.includes(d));
  if (unknown.length > 0) {
    throw new Error(`SHARDSYNC_RECONCILER_DATASETS names ${unknown.map((d) => `"${d}"`).join(', ')}, which the topology does not have; known datasets: ${known.join(', ')}`);
  }
  return wanted;
}

/** What one job scheduler adds, as `upsertJobScheduler` takes it. */
interface Schedule {
  readonly every: number;
  readonly template: { readonly name: string; readonly data: PassJobData | StagingGcJobData; readonly opts: JobsOptions };
}

/**
 * The schedules the configuration asks for, by scheduler id: one routine pass per dataset every
 * `SHARDSYNC_RECONCILER_INTERVAL_MS`, one deep pass per dataset every
 * `SHARDSYNC_RECONCILER_DEEP_INTERVAL_MS` (if set), and per datacenter a collection of its staged
 * bodies every `SHARDSYNC_STAGING_GC_INTERVAL_MS` (if set).
 */
export function wantedSchedules(topology: Topology, env: ReconcilerEnv): Map<string, Schedule> {
  const wanted = new Map<string, Schedule>();
  const passOpts: JobsOptions = { attempts: 2, backoff: { type: 'exponential', delay: 30_000 }, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } };
  const pass = (dataset: string, deep: boolean, every: number): Schedule => ({ every, template: { name: JOB.pass, data: { request: scheduledRequest(env, dataset, deep) }, opts: passOpts } });
  for (const dataset of datasetsToReconcile(topology, env)) {
    wanted.set(schedulerId(dataset, false), pass(dataset, false, env.SHARDSYNC_RECONCILER_INTERVAL_MS));
    if (env.SHARDSYNC_RECONCILER_DEEP_INTERVAL_MS > 0) wanted.set(schedulerId(dataset, true), pass(dataset, true, env.SHARDSYNC_RECONCILER_DEEP_INTERVAL_MS));
  }
  if (env.SHARDSYNC_STAGING_GC_INTERVAL_MS > 0) {
    const opts: JobsOptions = { attempts: 3, backoff: { type: 'exponential', delay: 30_000 }, removeOnComplete: { count: 20 }, removeOnFail: { count: 20 } };
    for (const { name: datacenter } of topology.datacenters) {
      wanted.set(stagingSchedulerId(datacenter), { every: env.SHARDSYNC_STAGING_GC_INTERVAL_MS, template: { name: JOB.stagingGc, data: { datacenter }, opts } });
    }
  }
  return wanted;
}

async function upsertSchedule(queue: Queue, id: string, schedule: Schedule): Promise<void> {
  await queue.upsertJobScheduler(id, { every: schedule.every }, { ...schedule.template });
}

/**
 * Makes the queue's job schedulers match the configuration ({@link wantedSchedules}). Scheduler
 * ids are per dataset and mode (per datacenter for the staging collection), and
 * `upsertJobScheduler` is idempotent, so however many instances start (or restart) there is
 * exactly one schedule of each; schedules no longer configured are removed.
 */
export async function syncSchedules(queue: Queue, topology: Topology, env: ReconcilerEnv, logger: Logger): Promise<string[]> {
  const wanted = wantedSchedules(topology, env);
  for (const [id, schedule] of wanted) await upsertSchedule(queue, id, schedule);
  for (const scheduler of await queue.getJobSchedulers()) {
    const id = scheduler.key;
    if (wanted.has(id)) continue;
    if (id.startsWith('pass-') || id.startsWith('deep-pass-')) {
      await queue.removeJobScheduler(id);
      logger.info({ scheduler: id }, 'removed the schedule of a dataset no longer reconciled');
    }
    if (id.startsWith('staging-gc-')) {
      await queue.removeJobScheduler(id);
      logger.info({ scheduler: id }, 'removed a staging collection schedule no longer wanted');
    }
  }
  return [...wanted.keys()];
}

/** States of a scheduler's due job that is still to be picked up (workers busy): not stopped. */
const PENDING = new Set(['waiting', 'delayed', 'prioritized']);

/**
 * Whether a schedule stopped advancing. A BullMQ worker adds a scheduler's next job when it picks
 * up the due one; an error there other than a lost connection is only emitted (a worker 'error')
 * and the scheduler is left with no next job: its due time passes and its due job is active,
 * finished or gone instead of pending. A due job still pending (every worker busy) is not stopped.
 */
async function stopped(queue: Queue, id: string, graceMs: number): Promise<boolean> {
  const scheduler = await queue.getJobScheduler(id);
  // Gone: removed by an instance that no longer reconciles it (a rolling change of
  // SHARDSYNC_RECONCILER_DATASETS); adding it back would undo that for good.
  if (scheduler === undefined) return false;
  const next = Number(scheduler.next);
  if (!Number.isFinite(next) || Date.now() - next < graceMs) return false;
  const due = await queue.getJob(`repeat:${id}:${next}`);
  return due === undefined || !PENDING.has(await due.getState());
}

/**
 * Upserts again every wanted schedule that stopped advancing (see {@link stopped}): BullMQ then adds
 * its next job from the stored scheduler, and the schedule goes on. Answers the ids restored.
 */
export async function restoreStoppedSchedules(queue: Queue, wanted: ReadonlyMap<string, Schedule>, graceMs: number): Promise<string[]> {
  const restored: string[] = [];
  for (const [id, schedule] of wanted) {
    if (!(await stopped(queue, id, graceMs))) continue;
    await upsertSchedule(queue, id, schedule);
    restored.push(id);
  }
  return restored;
}
