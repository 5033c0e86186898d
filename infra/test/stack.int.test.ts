import { GetObjectCommand, HeadBucketCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { stackStatus, stackUp, startServer, stopServer } from '../src/index.js';
import { datacenter, kafka, s3For, stackOptions, uniqueName } from './helpers.js';

// These tests stop servers that other test files use at the same time; each restarts what it
// stops, also when it fails (onTestFinished), and only touches its own keys and topics.
describe('local stack', () => {
  beforeAll(async () => {
    await stackUp(stackOptions);
  });

  it('a second up leaves the running servers alone', async () => {
    const before = await stackStatus(stackOptions);
    const after = await stackUp(stackOptions);
    expect(after.healthy).toBe(true);
    expect(after.servers.map((s) => [s.name, s.pid])).toEqual(before.servers.map((s) => [s.name, s.pid]));
  });

  it('stopping one datacenter\'s S3 server keeps the others up, and its objects survive its restart', async () => {
    const dcB = datacenter('dc-b');
    const s3B = s3For(dcB);
    const Key = `${uniqueName('survives')}/model.bin`;
    const Body = Buffer.from('weights of a checkpoint');
    await s3B.send(new PutObjectCommand({ Bucket: dcB.s3.bucket, Key, Body, Metadata: { 'shardsync-version': '00000042' } }));

    onTestFinished(async () => {
      await startServer('dc-b', stackOptions);
    });
    expect(await stopServer('dc-b', stackOptions)).toBe('stopped');

    const status = await stackStatus(stackOptions);
    const byName = new Map(status.servers.map((s) => [s.name, s]));
    expect(byName.get('dc-b')).toMatchObject({ state: 'stopped', healthy: false, pid: null });
    expect(byName.get('dc-a')?.healthy).toBe(true);
    expect(byName.get('dc-c')?.healthy).toBe(true);
    expect(byName.get('kafka')?.healthy).toBe(true);
    const dcA = datacenter('dc-a');
    await expect(s3For(dcA).send(new HeadBucketCommand({ Bucket: dcA.s3.bucket }))).resolves.toBeDefined();
    await expect(s3B.send(new HeadObjectCommand({ Bucket: dcB.s3.bucket, Key }))).rejects.toThrow();

    expect(await startServer('dc-b', stackOptions)).toBe('started');
    const object = await s3For(dcB).send(new GetObjectCommand({ Bucket: dcB.s3.bucket, Key }));
    expect(Buffer.from(await object.Body!.transformToByteArray())).toEqual(Body);
    expect(object.Metadata).toEqual({ 'shardsync-version': '00000042' });
  });

  it('stopping Kafka keeps the S3 servers up, and its records survive its restart', async () => {
    const topic = uniqueName('infra-survives');
    const admin = kafka().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const producer = kafka().producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'before the restart' }] });
    await producer.disconnect();
    await admin.disconnect();

    onTestFinished(async () => {
      await startServer('kafka', stackOptions);
    });
    expect(await stopServer('kafka', stackOptions)).toBe('stopped');
    const status = await stackStatus(stackOptions);
    expect(status.kafka).toMatchObject({ state: 'stopped', healthy: false });
    expect(status.datacenters.every((d) => d.healthy)).toBe(true);

    expect(await startServer('kafka', stackOptions)).toBe('started');
    const after = kafka().admin();
    await after.connect();
    onTestFinished(async () => {
      await after.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await after.disconnect();
    });
    const offsets = await after.fetchTopicOffsets(topic);
    expect(offsets).toEqual([expect.objectContaining({ partition: 0, low: '0', high: '1' })]);
  });

  it('refuses an unknown server name and lists the known ones', async () => {
    await expect(stopServer('dc-z', stackOptions)).rejects.toThrow(/no server "dc-z".*known servers: kafka, redis, dc-a/);
  });
});
