import { STAGING_PREFIX } from '@shardsync/events';
import { UnsupportedOperationError, type ObjectStore } from '@shardsync/objectstore';
import type { Job } from 'bullmq';
import type { JobDeps } from './deps.js';
import type { StagingGcJobData, StagingGcResult } from './types.js';

/** What the staging collection uses of the service (a narrower {@link JobDeps}, so it runs without Redis in unit tests). */
export type StagingDeps = Pick<JobDeps, 'stores' | 'env' | 'metrics' | 'logger' | 'signal'>;

/** Where producers stage bodies: one key per event (`.shardsync/staging/events/<eventId>`). */
const STAGED_EVENTS_PREFIX = `${STAGING_PREFIX}events/`;

/**
 * Stores already told to have no upload listing: the warning is logged once per store (the pool
 * keeps one per datacenter for the life of the process), not once an hour forever.
 */
const unsupportedLogged = new WeakSet<ObjectStore>();

/**
 * Deletes the bodies producers staged in one datacenter (`.shardsync/staging/events/`) once they are
 * older than SHARDSYNC_STAGING_RETENTION_MS. An event outlives its staged body only when it is
 * older than that too, and the retention is at least the tombstone grace, which exceeds the
 * topic's retention: by then the event is gone from Kafka, and the object has reached every
 * datacenter or can only be repaired from a peer. Staging keys are unique per event and never
 * rewritten, so a key listed as old cannot have been refreshed in the meantime.
 *
 * Then aborts the incomplete multipart uploads under the staging prefix begun longer ago than
 * that retention (see {@link abortStaleUploads}).
 */
export async function processStagingGc(job: Pick<Job<StagingGcJobData, StagingGcResult>, 'data'>, deps: StagingDeps): Promise<StagingGcResult> {
  const { datacenter } = job.data;
  const store = deps.stores.of(datacenter);
  const cutoffMs = Date.now() - deps.env.SHARDSYNC_STAGING_RETENTION_MS;
  const objects = { deleted: 0, deletedBytes: 0, kept: 0 };
  // Only per-event keys: older producers staged content-addressed keys (`<sha256>`) that a new
  // upload of the same bytes rewrites, so their age says nothing; remove those by hand.
  for await (const entry of store.list({ prefix: STAGED_EVENTS_PREFIX, order: 'any', signal: deps.signal })) {
    if (entry.lastModified.getTime() > cutoffMs) {
      objects.kept += 1;
      continue;
    }
    await store.delete(entry.key, { signal: deps.signal });
    objects.deleted += 1;
    objects.deletedBytes += entry.size;
    deps.metrics.stagingDeleted.inc({ datacenter });
    deps.metrics.stagingDeletedBytes.inc({ datacenter }, entry.size);
  }
  const uploads = await abortStaleUploads(store, cutoffMs, deps);
  const result: StagingGcResult = { datacenter, ...objects, ...uploads };
  deps.logger.info(result, 'staged bodies past their retention deleted, stale incomplete uploads aborted');
  return result;
}

/**
 * Aborts the incomplete multipart uploads under the staging prefix that were begun before
 * `cutoffMs`: those of a producer that died mid-upload (crash, SIGKILL, a shutdown grace that ran
 * out). No listing of objects shows them, yet their parts hold disk space until aborted.
 *
 * Why the staging retention is the threshold: aborting an upload still running would fail its
 * request, and the producer puts no bound on how long a body may take (only idle timeouts per
 * request, so a slow but steady 5 GiB body keeps going for hours). The retention is days (at least
 * the tombstone grace), far beyond any upload, and frees the space of a dead upload no later than
 * that of a finished staged body. Nothing else can need the upload: the producer emits the event
 * only after the body is complete, so no event refers to an incomplete one. The whole staging
 * prefix is searched, content-addressed keys of older producers included: unlike their objects,
 * an upload is never rewritten, so its initiation time is its age. `Initiated` is the server's
 * clock and the cutoff this process's; skew of minutes is nothing against the retention.
 */
async function abortStaleUploads(store: ObjectStore, cutoffMs: number, deps: StagingDeps): Promise<Pick<StagingGcResult, 'abortedUploads' | 'keptUploads' | 'uploadsUnsupported'>> {
  const counts = { abortedUploads: 0, keptUploads: 0, uploadsUnsupported: false };
  try {
    for await (const upload of store.listUploads({ prefix: STAGING_PREFIX, signal: deps.signal })) {
      if (upload.initiatedMs > cutoffMs) {
        counts.keptUploads += 1;
        continue;
      }
      // `false`: completed or aborted since the listing (another instance's collection); not counted.
      if (await store.abortUpload(upload.key, upload.uploadId, { signal: deps.signal })) {
        counts.abortedUploads += 1;
        deps.metrics.stagingUploadsAborted.inc({ datacenter: store.datacenter });
      }
    }
  } catch (err) {
    if (!(err instanceof UnsupportedOperationError)) throw err;
    // The bodies were collected; only the uploads cannot be. A bucket lifecycle rule
    // (AbortIncompleteMultipartUpload) does that job on such a server.
    counts.uploadsUnsupported = true;
    if (!unsupportedLogged.has(store)) {
      unsupportedLogged.add(store);
      deps.logger.warn(
        { err, datacenter: store.datacenter },
        'incomplete multipart uploads under the staging prefix cannot be listed here and are not collected; set a lifecycle rule AbortIncompleteMultipartUpload on the bucket',
      );
    }
  }
  return counts;
}
