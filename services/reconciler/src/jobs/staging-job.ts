import { STAGING_PREFIX } from '@shardsync/events';
import type { Job } from 'bullmq';
import type { JobDeps } from './deps.js';
import type { StagingGcJobData, StagingGcResult } from './types.js';

/** Where producers stage bodies: one key per event (`.shardsync/staging/events/<eventId>`). */
const STAGED_EVENTS_PREFIX = `${STAGING_PREFIX}events/`;

/**
 * Deletes the bodies producers staged in one datacenter (`.shardsync/staging/events/`) once they are
 * older than SHARDSYNC_STAGING_RETENTION_MS. An event outlives its staged body only when it is
 * older than that too, and the retention is at least the tombstone grace, which exceeds the
 * topic's retention: by then the event is gone from Kafka, and the object has reached every
 * datacenter or can only be repaired from a peer. Staging keys are unique per event and never
 * rewritten, so a key listed as old cannot have been refreshed in the meantime.
 */
export async function processStagingGc(job: Job<StagingGcJobData, StagingGcResult>, deps: JobDeps): Promise<StagingGcResult> {
  const { datacenter } = job.data;
  const store = deps.stores.of(datacenter);
  const cutoffMs = Date.now() - deps.env.SHARDSYNC_STAGING_RETENTION_MS;
  const result = { datacenter, deleted: 0, deletedBytes: 0, kept: 0 };
  // Only per-event keys: older producers staged content-addressed keys (`<sha256>`) that a new
  // upload of the same bytes rewrites, so their age says nothing; remove those by hand.
  for await (const entry of store.list({ prefix: STAGED_EVENTS_PREFIX, order: 'any', signal: deps.signal })) {
    if (entry.lastModified.getTime() > cutoffMs) {
      result.kept += 1;
      continue;
    }
    await store.delete(entry.key, { signal: deps.signal });
    result.deleted += 1;
    result.deletedBytes += entry.size;
    deps.metrics.stagingDeleted.inc({ datacenter });
    deps.metrics.stagingDeletedBytes.inc({ datacenter }, entry.size);
  }
  deps.logger.info(result, 'staged bodies past their retention deleted');
  return result;
}
