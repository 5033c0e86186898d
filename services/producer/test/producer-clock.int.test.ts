import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { clockLeaseKeyOf, compareVersions, parseVersion, type Clock, type Version } from '@shardsync/events';
import { createTestTopology, rawS3Client, stopStackServer, uniqueName, waitFor } from '@shardsync/testing';
import type { ProducerService } from '../src/service.js';
import { auth, startTestProducer } from './helpers.js';

async function putVersion(producer: ProducerService, dataset: string, key: string, body: string): Promise<Version> {
  const res = await fetch(`${producer.url}/v1/objects/${dataset}/${key}`, { method: 'PUT', headers: auth(), body });
  expect(res.status).toBe(202);
  return parseVersion(((await res.json()) as { version: string }).version);
}

describe('producer clock across restarts', () => {
  it('a producer restarted with the same id and its wall clock set back an hour gives a newer write a higher version than the older one', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]!.name;
    const producerId = uniqueName('restarted');
    const first = await startTestProducer(topology, { SHARDSYNC_PRODUCER_ID: producerId });
    const older = await putVersion(first, dataset, 'k', 'older');
    await first.close();

    const setBack: Clock = { now: () => Date.now() - 3_600_000 };
    const second = await startTestProducer(topology, { SHARDSYNC_PRODUCER_ID: producerId }, setBack);
    const newer = await putVersion(second, dataset, 'k', 'newer');
    expect(newer.producerId).toBe(older.producerId);
    expect(compareVersions(newer, older)).toBe(1);

    // The lease lives in the origin datacenter's bucket, under the reserved prefix.
    const bucket = topology.datacenters.find((d) => d.name === 'dc-a')!.s3.bucket;
    const head = await rawS3Client('dc-a').send(new HeadObjectCommand({ Bucket: bucket, Key: clockLeaseKeyOf(producerId) }));
    expect(head.ContentLength).toBeGreaterThan(0);
  });

  it('a second process of the same id that cannot bind its port fails without taking the clock lease from the running one', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]!.name;
    const producerId = uniqueName('bound');
    // A short window: the running one renews (and would find its lease taken) every second.
    const lease = { SHARDSYNC_PRODUCER_ID: producerId, SHARDSYNC_PRODUCER_CLOCK_LEASE_WINDOW_MS: '2000' };
    const running = await startTestProducer(topology, lease);
    const port = new URL(running.url).port;
    await expect(startTestProducer(topology, { ...lease, SHARDSYNC_PRODUCER_PORT: port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await new Promise((resolve) => setTimeout(resolve, 2500)); // past two renewals
    await putVersion(running, dataset, 'k', 'still accepted');
    const ready = (await (await fetch(`${running.url}/readyz`)).json()) as { ready: boolean };
    expect(ready.ready).toBe(true);
  });

  it('a producer without a fixed id keeps no clock lease: nothing is left in the store for an id no later run uses', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]!.name;
    const producer = await startTestProducer(topology);
    const version = await putVersion(producer, dataset, 'k', 'body');
    const bucket = topology.datacenters.find((d) => d.name === 'dc-a')!.s3.bucket;
    const listed = await rawS3Client('dc-a').send(new ListObjectsV2Command({ Bucket: bucket, Prefix: '.shardsync/producers/' }));
    expect(listed.KeyCount ?? 0).toBe(0);
    await expect(rawS3Client('dc-a').send(new HeadObjectCommand({ Bucket: bucket, Key: clockLeaseKeyOf(version.producerId) }))).rejects.toMatchObject({ name: 'NotFound' });
    const ready = (await (await fetch(`${producer.url}/readyz`)).json()) as { ready: boolean; checks: Record<string, unknown> };
    expect(ready.ready).toBe(true);
    expect(Object.keys(ready.checks)).not.toContain('clock-lease');
  });

  it('with its origin store down, a producer stops emitting once its clock lease runs out, says why in 503s and readyz, and emits again once the store is back', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]!.name;
    const producer = await startTestProducer(topology, { SHARDSYNC_PRODUCER_ID: `lease-outage-${Date.now().toString(36)}` });
    await putVersion(producer, dataset, 'before', 'inline, needs no store but the lease');

    const restartStore = await stopStackServer('dc-a');
    const refused = await waitFor(
      async () => {
        const res = await fetch(`${producer.url}/v1/objects/${dataset}/during`, { method: 'PUT', headers: auth(), body: 'small' });
        return res.status === 202 ? undefined : { status: res.status, body: (await res.json()) as { error: string; message: string } };
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the clock lease to run out' },
    );
    expect(refused.status).toBe(503);
    expect(refused.body.error).toBe('SHARDSYNC_UNAVAILABLE');
    expect(refused.body.message).toMatch(/cannot persist its clock lease at dc-a:.*\/\.shardsync\/producers\/.*\/clock/);
    const ready = (await (await fetch(`${producer.url}/readyz`)).json()) as { ready: boolean; checks: Record<string, { ok: boolean; error?: string }> };
    expect(ready.ready).toBe(false);
    expect(ready.checks['clock-lease']).toMatchObject({ ok: false, error: expect.stringMatching(/cannot persist its clock lease/) as unknown });

    await restartStore();
    await waitFor(
      async () => (await fetch(`${producer.url}/v1/objects/${dataset}/after`, { method: 'PUT', headers: auth(), body: 'back' })).status === 202 || undefined,
      { timeoutMs: 60_000, intervalMs: 500, what: 'the producer to emit again' },
    );
  });
});
