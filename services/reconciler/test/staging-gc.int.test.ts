import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, ListObjectsV2Command, UploadPartCommand } from '@aws-sdk/client-s3';
import type { Topology } from '@shardsync/config';
import { STAGING_PREFIX } from '@shardsync/events';
import { createTestTopology, rawS3Client, waitFor } from '@shardsync/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { bucketOf, rawPut, startReconciler, testPrefix } from './helpers.js';

async function stagedKeys(bucket: string, dc: string): Promise<string[]> {
  const page = await rawS3Client(dc).send(new ListObjectsV2Command({ Bucket: bucket, Prefix: STAGING_PREFIX }));
  return (page.Contents ?? []).map((o) => o.Key ?? '').sort();
}

/** Begins a multipart upload with one part and leaves it, as a producer killed mid-upload does; returns its id. */
async function abandonedUpload(bucket: string, dc: string, key: string): Promise<string> {
  const client = rawS3Client(dc);
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: Buffer.alloc(64 * 1024, 7) }));
  return UploadId ?? '';
}

async function uploadsIn(bucket: string, dc: string): Promise<string[]> {
  const page = await rawS3Client(dc).send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (page.Uploads ?? []).map((u) => `${u.Key ?? ''} ${u.UploadId ?? ''}`).sort();
}

/** Starts a reconciler that only collects (no schedule) with `retentionMs`, runs one collection of dc-a and answers its result. */
async function collectStaging(topology: Topology, prefix: string, retentionMs: number) {
  const service = await startReconciler(topology, prefix, {
    SHARDSYNC_RECONCILER_SCHEDULE: 'false',
    SHARDSYNC_TOMBSTONE_GRACE_MS: String(retentionMs),
    SHARDSYNC_RECONCILER_INTERVAL_MS: '1000',
    SHARDSYNC_STAGING_RETENTION_MS: String(retentionMs),
  });
  const jobId = await service.enqueueStagingGc('dc-a');
  const result = await waitFor(
    async () => {
      const job = await service.queue.getJob(jobId);
      return job !== undefined && (await job.isCompleted()) ? (job.returnvalue as unknown) : undefined;
    },
    { what: 'the staging collection of dc-a' },
  );
  return { service, result };
}

describe('staging collection', () => {
  it('deletes the staged bodies past their retention in the datacenter asked, and keeps younger ones and everything else', async () => {
    const topology = await createTestTopology();
    const prefix = testPrefix();
    // Last-Modified has a resolution of one second: keep both margins well above it.
    const retentionMs = 5000;
    const old = `${STAGING_PREFIX}events/old-event`;
    const young = `${STAGING_PREFIX}events/young-event`;
    // Staged by an older producer under its content address: a new upload of the same bytes rewrites it, so it is never collected by age.
    const legacy = `${STAGING_PREFIX}${'a'.repeat(64)}`;
    for (const dc of ['dc-a', 'dc-b']) await rawPut(topology, dc, old, Buffer.from('staged long ago'));
    await rawPut(topology, 'dc-a', legacy, Buffer.from('content-addressed long ago'));
    await rawPut(topology, 'dc-a', 'models/not-staged', Buffer.from('an object'));
    await sleep(retentionMs + 500);
    await rawPut(topology, 'dc-a', young, Buffer.from('staged just now'));

    const { service, result } = await collectStaging(topology, prefix, retentionMs);
    expect(result).toMatchObject({ datacenter: 'dc-a', deleted: 1, kept: 1, abortedUploads: 0, keptUploads: 0 });

    expect(await stagedKeys(bucketOf(topology, 'dc-a'), 'dc-a')).toEqual([legacy, young].sort());
    expect(await stagedKeys(bucketOf(topology, 'dc-b'), 'dc-b')).toEqual([old]); // not asked
    const rest = await rawS3Client('dc-a').send(new ListObjectsV2Command({ Bucket: bucketOf(topology, 'dc-a'), Prefix: 'models/' }));
    expect(rest.Contents?.map((o) => o.Key)).toEqual(['models/not-staged']);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/shardsync_reconciler_staging_deleted_total\{datacenter="dc-a"\} 1\b/);
  });

  it('aborts the incomplete staging uploads of a producer that died mid-upload once they are past the retention, and leaves younger ones and other uploads alone', async () => {
    const topology = await createTestTopology();
    const prefix = testPrefix();
    const retentionMs = 3000;
    const bucket = bucketOf(topology, 'dc-a');
    const dead = await abandonedUpload(bucket, 'dc-a', `${STAGING_PREFIX}events/producer-killed`);
    // A consumer's upload of a user key is not the staging collector's to abort, however old.
    const userUpload = await abandonedUpload(bucket, 'dc-a', 'models/not-staged');
    await sleep(retentionMs + 1000);
    // Begun within the retention: possibly a slow body still streaming, never aborted.
    const running = await abandonedUpload(bucket, 'dc-a', `${STAGING_PREFIX}events/still-uploading`);

    const { service, result } = await collectStaging(topology, prefix, retentionMs);

    expect(result).toMatchObject({ datacenter: 'dc-a', abortedUploads: 1, keptUploads: 1, uploadsUnsupported: false });
    expect(await uploadsIn(bucket, 'dc-a')).toEqual([`${STAGING_PREFIX}events/still-uploading ${running}`, `models/not-staged ${userUpload}`].sort());
    expect(await uploadsIn(bucket, 'dc-a')).not.toContain(`${STAGING_PREFIX}events/producer-killed ${dead}`);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/shardsync_reconciler_staging_uploads_aborted_total\{datacenter="dc-a"\} 1\b/);
  });

  it('schedules one collection per datacenter however many instances start, and none when the interval is 0', async () => {
    const topology = await createTestTopology();
    const prefix = testPrefix();
    const first = await startReconciler(topology, prefix);
    await startReconciler(topology, prefix);
    const staging = (await first.queue.getJobSchedulers()).filter((s) => s.key.startsWith('staging-gc-'));
    expect(staging.map((s) => [s.key, s.every]).sort()).toEqual(topology.datacenters.map((d) => [`staging-gc-${d.name}`, 3_600_000]).sort());
    await startReconciler(topology, prefix, { SHARDSYNC_STAGING_GC_INTERVAL_MS: '0' });
    expect((await first.queue.getJobSchedulers()).filter((s) => s.key.startsWith('staging-gc-'))).toEqual([]);
  });
});
