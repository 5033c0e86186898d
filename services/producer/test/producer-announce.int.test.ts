import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { decodeShardUpdate, type ShardUpdate } from '@shardsync/events';
import { createTestTopology, rawS3Client, readTopic, uniqueName } from '@shardsync/testing';
import { auth, rawRequest, startTestProducer, TOKEN } from './helpers.js';

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

  it("a token may not announce an object of a dataset it is not granted from shardsync's own bucket as its source (403), nor learn its size", async () => {
    const base = await createTestTopology();
    const names = base.datacenters.map((d) => d.name);
    const mine = uniqueName('mine').slice(0, 40);
    const theirs = uniqueName('theirs').slice(0, 40);
    const topology = { ...base, datasets: [{ name: mine, datacenters: names }, { name: theirs, datacenters: names }] };
    const limited = 'limited-token-0123456789abcdef';
    const producer = await startTestProducer(topology, { SHARDSYNC_PRODUCER_TOKENS: `tests:${TOKEN}:*;limited:${limited}:${mine}` });
    const dc = topology.datacenters[0]!;
    // An object of the other dataset as the consumers store it: <dataset>/<key> in the datacenter's bucket.
    const secret = Buffer.from('an object of a dataset the token may not read');
    await rawS3Client(dc.name).send(new PutObjectCommand({ Bucket: dc.s3.bucket, Key: `${theirs}/secret.bin`, Body: secret }));
    const announce = (token: string, size: number, key = `${theirs}/secret.bin`) =>
      rawRequest(producer.url, 'POST', '/v1/events', { ...auth(token), 'content-type': 'application/json' }, JSON.stringify({
        dataset: mine, key: 'copied.bin', operation: 'put', source: { datacenter: dc.name, bucket: dc.s3.bucket, key }, size, sha256: sha(secret),
      }));
    const copied = await announce(limited, secret.length);
    expect({ status: copied.status, error: (copied.json as { error?: string }).error }).toEqual({ status: 403, error: 'SHARDSYNC_FORBIDDEN' });
    // No size oracle either: a wrong size is refused the same way, without the object's size in the message.
    const probed = await announce(limited, 1);
    expect({ status: probed.status, error: (probed.json as { error?: string }).error }).toEqual({ status: 403, error: 'SHARDSYNC_FORBIDDEN' });
    expect((probed.json as { message: string }).message).not.toContain(String(secret.length));
    expect(await eventsOn(topology.kafka.topics.updates)).toEqual([]);

    // A token granted both datasets may; so may the limited one, for an object of its own dataset.
    await rawS3Client(dc.name).send(new PutObjectCommand({ Bucket: dc.s3.bucket, Key: `${mine}/written.bin`, Body: secret }));
    expect((await announce(TOKEN, secret.length)).status).toBe(202);
    expect((await announce(limited, secret.length, `${mine}/written.bin`)).status).toBe(202);
    expect(await eventsOn(topology.kafka.topics.updates)).toHaveLength(2);
  });
});
