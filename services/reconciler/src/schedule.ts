import type { Topology } from '@shardsync/config';
import type { Logger } from '@shardsync/runtime';
import type { Queue } from 'bullmq';
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

/**
 * Makes the queue's job schedulers match the configuration: one routine pass per dataset every
 * `SHARDSYNC_RECONCILER_INTERVAL_MS`, one deep pass per dataset every
 * `SHARDSYNC_RECONCILER_DEEP_INTERVAL_MS` (if set). Scheduler ids are per dataset and mode, and
 * `upsertJobScheduler` is idempotent, so however many instances start (or restart) there is
 * exactly one schedule of each; schedules of datasets no longer configured are removed. Each
 * datacenter also gets a collection of its staged bodies every `SHARDSYNC_STAGING_GC_INTERVAL_MS`.
 */
export async function syncSchedules(queue: Queue, topology: Topology, env: ReconcilerEnv, logger: Logger): Promise<string[]> {
  const datasets = datasetsToReconcile(topology, env);
  const wanted = new Map<string, { dataset: string; deep: boolean; every: number }>();
  for (const dataset of datasets) {
    wanted.set(schedulerId(dataset, false), { dataset, deep: false, every: env.SHARDSYNC_RECONCILER_INTERVAL_MS });
    if (env.SHARDSYNC_RECONCILER_DEEP_INTERVAL_MS > 0) wanted.set(schedulerId(dataset, true), { dataset, deep: true, every: env.SHARDSYNC_RECONCILER_DEEP_INTERVAL_MS });
  }
  for (const [id, { dataset, deep, every }] of wanted) {
    await queue.upsertJobScheduler(
      id,
      { every },
      {
        name: JOB.pass,
        data: { request: scheduledRequest(env, dataset, deep) } satisfies PassJobData,
        opts: { attempts: 2, backoff: { type: 'exponential', delay: 30_000 }, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
      },
    );
  }
  const staging = new Set<string>();
  if (env.SHARDSYNC_STAGING_GC_INTERVAL_MS > 0) {
    for (const { name: datacenter } of topology.datacenters) {
      const id = stagingSchedulerId(datacenter);
      staging.add(id);
      await queue.upsertJobScheduler(
        id,
        { every: env.SHARDSYNC_STAGING_GC_INTERVAL_MS },
        { name: JOB.stagingGc, data: { datacenter } satisfies StagingGcJobData, opts: { attempts: 3, backoff: { type: 'exponential', delay: 30_000 }, removeOnComplete: { count: 20 }, removeOnFail: { count: 20 } } },
      );
    }
  }
  for (const scheduler of await queue.getJobSchedulers()) {
    const id = scheduler.key;
    if ((id.startsWith('pass-') || id.startsWith('deep-pass-')) && !wanted.has(id)) {
      await queue.removeJobScheduler(id);
      logger.info({ scheduler: id }, 'removed the schedule of a dataset no longer reconciled');
    }
    if (id.startsWith('staging-gc-') && !staging.has(id)) {
      await queue.removeJobScheduler(id);
      logger.info({ scheduler: id }, 'removed a staging collection schedule no longer wanted');
    }
  }
  return [...wanted.keys(), ...staging];
}
