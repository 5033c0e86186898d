import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { decodeShardUpdate, type ShardUpdate } from '@shardsync/events';
import { createTestTopology, rawS3Client, readTopic, uniqueName } from '@shardsync/testing';
import { auth, rawRequest, startTestProducer } from './helpers.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function eventsOn(topic: string): Promise<ShardUpdate[]> {
  return (await readTopic(topic)).map((m) => decodeShardUpdate(m.value, m.headers));
}

describe('POST /v1/events: where an announced source may be', () => {
  it('a source key whose "." or ".." segments or doubled slashes the store collapses into shardsync\'s reserved prefix is refused with 400, and nothing is emitted', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const dataset = topology.datasets[0]!.name;
    const dc = topology.datacenters[0]!;
    // A body staged by another update: under the reserved prefix, never a source a service may name.
    const staged = Buffer.from('a staged body of another update');
    const stagedKey = `.shardsync/staging/events/${uniqueName('event')}`;
    await rawS3Client(dc.name).send(new PutObjectCommand({ Bucket: dc.s3.bucket, Key: stagedKey, Body: staged }));
    for (const key of [`./${stagedKey}`, `x/../${stagedKey}`, `${stagedKey.replace('staging/', 'staging//')}`.replace('.shardsync/', './.shardsync/')]) {
      const res = await rawRequest(producer.url, 'POST', '/v1/events', { ...auth(), 'content-type': 'application/json' }, JSON.stringify({
        dataset, key: 'copied.bin', operation: 'put', source: { datacenter: dc.name, bucket: dc.s3.bucket, key }, size: staged.length, sha256: sha(staged),
      }));
      expect({ key, status: res.status, error: (res.json as { error?: string }).error }).toEqual({ key, status: 400, error: 'SHARDSYNC_INVALID_REQUEST' });
    }
    expect(await eventsOn(topology.kafka.topics.updates)).toEqual([]);
  });
});
