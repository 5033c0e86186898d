import { randomBytes } from 'node:crypto';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { createTestTopology, rawS3Client, readTopic, stopStackServer, waitFor } from '@shardsync/testing';
import { auth, startTestProducer } from './helpers.js';

describe('producer when Kafka is down', () => {
  it('answers 503, emits nothing, deletes a staged body only when its event cannot be in Kafka, and works again once Kafka is back', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const dataset = topology.datasets[0]!.name;
    const bucket = topology.datacenters.find((d) => d.name === 'dc-a')!.s3.bucket;

    const stagedKeys = async () =>
      ((await rawS3Client('dc-a').send(new ListObjectsV2Command({ Bucket: bucket, Prefix: '.shardsync/staging/' }))).Contents ?? []).map((o) => o.Key);
    const putDuringOutage = async (key: string) => {
      const res = await fetch(`${producer.url}/v1/objects/${dataset}/${key}`, { method: 'PUT', headers: auth(), body: randomBytes(50_000) });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: string }).error).toBe('SHARDSYNC_UNAVAILABLE');
    };

    const restartKafka = await stopStackServer('kafka');
    // The first send fails on a connection that was open: the broker may have appended it before
    // it went away, so the body stays for the staging collector rather than under a live event.
    await putDuringOutage('during-outage-1.bin');
    expect(await stagedKeys()).toHaveLength(1);
    // The next one cannot even connect: nothing was sent, so its body is deleted at once.
    await putDuringOutage('during-outage-2.bin');
    expect(await stagedKeys()).toHaveLength(1);

    await restartKafka();
    const after = await waitFor(
      async () => {
        const r = await fetch(`${producer.url}/v1/objects/${dataset}/after-outage.txt`, { method: 'PUT', headers: auth(), body: 'back' });
        return r.status === 202 ? r : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1000, what: 'the producer to accept writes again' },
    );
    expect(after.status).toBe(202);
    const keys = (await readTopic(topology.kafka.topics.updates)).map((m) => m.key?.toString());
    expect(keys).toEqual([`${dataset}/after-outage.txt`]);
  });
});
