import { STAGING_PREFIX } from '@shardsync/events';
import { MemoryObjectStore, StorePool, UnsupportedOperationError } from '@shardsync/objectstore';
import { createLogger } from '@shardsync/runtime';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { reconcilerEnvSchema } from '../src/env.js';
import { processStagingGc, type StagingDeps } from '../src/jobs/staging-job.js';
import { ReconcilerMetrics } from '../src/metrics.js';

const RETENTION_MS = 24 * 3600 * 1000;
const MINUTE = 60_000;

/** The staging collection's dependencies over one in-memory datacenter `dc-a`. */
function stagingDeps(store: MemoryObjectStore): StagingDeps & { warn: ReturnType<typeof vi.fn> } {
  const pool = new StorePool([{ name: 'dc-a', s3: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', bucket: store.bucket } }], {}, { factory: () => store });
  onTestFinished(() => pool.close());
  const logger = createLogger('staging-job-test', {}, 'silent');
  const warn = vi.fn();
  logger.warn = warn;
  const env = reconcilerEnvSchema.parse({ SHARDSYNC_TOMBSTONE_GRACE_MS: String(RETENTION_MS), SHARDSYNC_STAGING_RETENTION_MS: String(RETENTION_MS) });
  return { stores: pool, env, metrics: new ReconcilerMetrics(), logger, signal: new AbortController().signal, warn };
}

describe('staging collection of incomplete multipart uploads', () => {
  it('aborts the staging uploads begun before the retention and leaves younger ones and uploads outside the staging prefix alone', async () => {
    const store = new MemoryObjectStore({ datacenter: 'dc-a', bucket: 'bucket-a' });
    const now = Date.now();
    const dead = store.beginUpload(`${STAGING_PREFIX}events/producer-died`, now - RETENTION_MS - 10 * MINUTE);
    const legacyDead = store.beginUpload(`${STAGING_PREFIX}${'b'.repeat(64)}`, now - 3 * RETENTION_MS);
    // A slow 5 GiB body begun an hour ago may still be streaming: it must survive.
    const running = store.beginUpload(`${STAGING_PREFIX}events/slow-upload`, now - 60 * MINUTE);
    // Only the staging area is the collector's: a consumer's upload of a user key is not.
    const userUpload = store.beginUpload('models/big-model', now - 3 * RETENTION_MS);
    const deps = stagingDeps(store);

    const result = await processStagingGc({ data: { datacenter: 'dc-a' } }, deps);

    expect(result).toMatchObject({ datacenter: 'dc-a', abortedUploads: 2, keptUploads: 1, uploadsUnsupported: false });
    expect(store.uploads().map((u) => u.uploadId).sort()).toEqual([running, userUpload].sort());
    expect([dead, legacyDead].some((id) => store.uploads().some((u) => u.uploadId === id))).toBe(false);
    expect(await deps.metrics.registry.getSingleMetricAsString('shardsync_reconciler_staging_uploads_aborted_total')).toMatch(/\{datacenter="dc-a"\} 2\b/);
  });

  it('finds old uploads on every page of the upload listing', async () => {
    const store = new MemoryObjectStore({ datacenter: 'dc-a', bucket: 'bucket-a', listPageSize: 2 });
    const old = Date.now() - 2 * RETENTION_MS;
    for (let i = 0; i < 5; i++) store.beginUpload(`${STAGING_PREFIX}events/e${i}`, old);
    store.beginUpload(`${STAGING_PREFIX}events/e1`, old); // a second upload of one key: both go

    const result = await processStagingGc({ data: { datacenter: 'dc-a' } }, stagingDeps(store));

    expect(result.abortedUploads).toBe(6);
    expect(store.uploads()).toEqual([]);
  });

  it('still collects staged bodies on a store that cannot list uploads, and warns about it once, not on every run', async () => {
    const store = new MemoryObjectStore({ datacenter: 'dc-a', bucket: 'bucket-a', now: () => new Date(Date.now() - 2 * RETENTION_MS) });
    await store.put(`${STAGING_PREFIX}events/old-event`, Buffer.from('staged long ago'));
    store.injectFault({ operation: 'listUploads', error: () => new UnsupportedOperationError('ListMultipartUploads: 501 Not Implemented'), times: Infinity });
    const deps = stagingDeps(store);

    const first = await processStagingGc({ data: { datacenter: 'dc-a' } }, deps);
    const second = await processStagingGc({ data: { datacenter: 'dc-a' } }, deps);

    expect(first).toMatchObject({ deleted: 1, abortedUploads: 0, keptUploads: 0, uploadsUnsupported: true });
    expect(second).toMatchObject({ deleted: 0, uploadsUnsupported: true });
    expect(store.keys()).toEqual([]);
    expect(deps.warn).toHaveBeenCalledTimes(1);
  });

  it('fails the run when listing uploads fails for another reason, so the job is retried', async () => {
    const store = new MemoryObjectStore({ datacenter: 'dc-a', bucket: 'bucket-a' });
    store.injectFault({ operation: 'listUploads', error: new Error('socket hang up') });
    await expect(processStagingGc({ data: { datacenter: 'dc-a' } }, stagingDeps(store))).rejects.toThrow('socket hang up');
  });
});
