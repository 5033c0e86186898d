import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { loadTopology, type Topology } from '@shardsync/config';
import { emptyAndDeleteBucket, rawS3Client, stackInfo, testAdmin, testKafka, uniqueName } from '@shardsync/testing';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { InitReport } from '../src/index.js';
import { cliJson, interruptedRun, silentServer } from './int-helpers.js';

/** The stack's topology with topics and buckets that do not exist yet, all removed when the test ends. */
function freshTopology(): Topology {
  const base = loadTopology({ path: stackInfo().topologyPath });
  const topology: Topology = {
    ...base,
    kafka: { ...base.kafka, topics: { updates: uniqueName('init-updates'), deadLetters: uniqueName('init-dlq') }, partitions: 5 },
    datacenters: base.datacenters.map((dc) => ({ ...dc, s3: { ...dc.s3, bucket: uniqueName(`init-${dc.name}`) } })),
  };
  onTestFinished(async () => {
    const admin = testKafka('cli-init-cleanup').admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const topics = [topology.kafka.topics.updates, topology.kafka.topics.deadLetters].filter((t) => existing.has(t));
      if (topics.length > 0) await admin.deleteTopics({ topics });
    } finally {
      await admin.disconnect();
    }
    for (const dc of topology.datacenters) await emptyAndDeleteBucket(rawS3Client(dc.name), dc.s3.bucket).catch(() => undefined);
  });
  return topology;
}

describe('shardsync init', () => {
  it('creates the topics with the topology partitions and every bucket, and a second run changes nothing', async () => {
    const topology = freshTopology();

    const first = await cliJson<InitReport>(topology, ['init']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.json.topics).toEqual([
      { topic: topology.kafka.topics.updates, outcome: 'created', partitions: 5 },
      { topic: topology.kafka.topics.deadLetters, outcome: 'created', partitions: 1 },
    ]);
    expect(first.json.buckets.map((b) => [b.datacenter, b.outcome])).toEqual(topology.datacenters.map((dc) => [dc.name, 'created']));

    const admin = await testAdmin();
    // The updates topic keeps events for less than tombstones and staged bodies live.
    const TOPIC = 2; // kafkajs ConfigResourceTypes.TOPIC
    const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: TOPIC, name: topology.kafka.topics.updates, configNames: ['retention.ms'] }] });
    expect(resources[0]?.configEntries.find((e) => e.configName === 'retention.ms')?.configValue).toBe(String(topology.kafka.retentionMs));
    const metadata = await admin.fetchTopicMetadata({ topics: [topology.kafka.topics.updates] });
    expect(metadata.topics[0]?.partitions).toHaveLength(5);
    for (const dc of topology.datacenters) await rawS3Client(dc.name).send(new HeadBucketCommand({ Bucket: dc.s3.bucket }));

    const second = await cliJson<InitReport>(topology, ['init']);
    expect(second.code).toBe(0);
    expect(second.json.topics.map((t) => t.outcome)).toEqual(['exists', 'exists']);
    expect(second.json.buckets.map((b) => b.outcome)).toEqual(['exists', 'exists', 'exists']);
  });

  it('warns when an existing updates topic has other partitions than the topology says', async () => {
    const topology = freshTopology();
    expect((await cliJson<InitReport>(topology, ['init'])).code).toBe(0);
    const run = await cliJson<InitReport>({ ...topology, kafka: { ...topology.kafka, partitions: 8 } }, ['init']);
    expect(run.code).toBe(0);
    expect(run.json.topics[0]?.warning).toContain('has 5 partitions but the topology says 8');
  });

  it('exits 2 naming Kafka when no broker answers', async () => {
    const topology = freshTopology();
    // The stack's broker comes from SHARDSYNC_KAFKA_BROKERS, which would override the file.
    const env = { ...process.env, SHARDSYNC_KAFKA_BROKERS: '' };
    const run = await cliJson<{ error: string; message: string; hint: string }>({ ...topology, kafka: { ...topology.kafka, brokers: ['127.0.0.1:1'] } }, ['init'], env);
    expect(run.code).toBe(2);
    expect(run.json.error).toBe('SHARDSYNC_EVENTLOG_UNAVAILABLE');
    expect(run.json.hint).toContain('127.0.0.1:1');
  });

  it('stops at once when interrupted (Ctrl-C) while it waits on a broker that does not answer, and says it was interrupted', async () => {
    const topology = freshTopology();
    const silent = await silentServer();
    const env = { ...process.env, SHARDSYNC_KAFKA_BROKERS: silent };
    const run = await interruptedRun({ ...topology, kafka: { ...topology.kafka, brokers: [silent] } }, ['init'], 500, env);
    expect(run.json).toMatchObject({ error: 'SHARDSYNC_CLI_INTERRUPTED', retriable: true, hint: expect.stringContaining('run init again') as unknown });
    expect(run.code).toBe(2);
    // Without the interruption it would wait out kafkajs's request timeout (30 s) and its retries.
    expect(run.stoppedAfterMs).toBeLessThan(2000);
  });
});
