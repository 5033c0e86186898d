import type { Topology } from '@shardsync/config';
import type { StorePool } from '@shardsync/objectstore';
import { createReconcileContext, type PassHistoryOptions, type PassRequest, type ReconcileContext, type TokenBucket } from '@shardsync/reconcile';
import type { Logger } from '@shardsync/runtime';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ReconcilerEnv } from '../env.js';
import type { ReconcilerMetrics } from '../metrics.js';

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
  /** Aborted when the service closes and its grace period is half over. */
  readonly signal: AbortSignal;
}

/** The reconcile context of a job: its pass's request, this process's stores and budget. */
export function contextFor(deps: JobDeps, request: PassRequest, passId: string): ReconcileContext {
  return createReconcileContext({
    ...request,
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
