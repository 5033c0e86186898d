import type { Topology } from '@shardsync/config';
import type { StorePool } from '@shardsync/objectstore';
import { createReconcileContext, ReconcileAbortedError, type PassHistoryOptions, type PassRequest, type ReconcileContext, type TokenBucket } from '@shardsync/reconcile';
import type { Logger } from '@shardsync/runtime';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ReconcilerEnv } from '../env.js';
import type { ReconcilerMetrics } from '../metrics.js';
import type { PassLock } from '@shardsync/reconcile';

/** What every job processor needs; built once by the service. */
export interface JobDeps {
  readonly topology: Topology;
  readonly stores: StorePool;
  readonly queue: Queue;
  readonly redis: Redis;
  readonly env: ReconcilerEnv;
  readonly metrics: ReconcilerMetrics;
  readonly logger: Logger;
  /** Deep-mode read budget shared by every pass of this process. */
  readonly budget: TokenBucket;
  readonly history: PassHistoryOptions;
  /** One pass per dataset at a time across the instances. */
  readonly passLock: PassLock;
  /** Aborted when the service closes and its grace period is half over. */
  readonly signal: AbortSignal;
}

/**
 * A pass request as this instance may run it: never less cautious than its own settings. A
 * scheduled pass's request lives in the job template every instance of the queue shares, and the
 * instance started last wrote it, so an instance started with SHARDSYNC_RECONCILER_DRY_RUN=true
 * (to observe) must not write because another's template says so, and the unmanaged policy is
 * acted on only where the instance's own setting agrees; anything else is reported.
 */
export function allowedHere(request: PassRequest, env: ReconcilerEnv): PassRequest {
  const dryRun = request.dryRun === true || env.SHARDSYNC_RECONCILER_DRY_RUN;
  const unmanaged = request.unmanaged === undefined || request.unmanaged === env.SHARDSYNC_RECONCILER_UNMANAGED ? request.unmanaged : 'report';
  return dryRun === (request.dryRun === true) && unmanaged === request.unmanaged ? request : { ...request, dryRun, unmanaged };
}

/** The reconcile context of a job: its pass's request (as {@link allowedHere}), this process's stores and budget. */
export function contextFor(deps: JobDeps, request: PassRequest, passId: string): ReconcileContext {
  return createReconcileContext({
    ...allowedHere(request, deps.env),
    topology: deps.topology,
    stores: deps.stores,
    passId,
    keyConcurrency: deps.env.SHARDSYNC_RECONCILER_KEY_CONCURRENCY,
    budget: deps.budget,
    signal: deps.signal,
  });
}

/** The request of a scheduled pass: the service's settings for one dataset. */
export function scheduledRequest(env: ReconcilerEnv, dataset: string, deep: boolean): PassRequest {
  return {
    dataset,
    deep,
    dryRun: env.SHARDSYNC_RECONCILER_DRY_RUN,
    unmanaged: env.SHARDSYNC_RECONCILER_UNMANAGED,
    tombstoneGraceMs: env.SHARDSYNC_TOMBSTONE_GRACE_MS,
    bytesPerSecond: env.SHARDSYNC_RECONCILER_DEEP_BYTES_PER_SECOND,
  };
}

/**
 * Throws when the service's shutdown cut the job's work short. A key cut mid-repair is reported
 * as a failure of the key, not thrown, so without this the job would complete with copies
 * "failed" for no fault of theirs (a rolling restart would look like divergence); thrown, the
 * processor puts the job back in the queue for another instance.
 */
export function throwIfCut(deps: Pick<JobDeps, 'signal'>, what: string): void {
  if (deps.signal.aborted) throw new ReconcileAbortedError(`${what} was cut short by this instance's shutdown`, deps.signal.reason);
}
