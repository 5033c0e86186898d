import type { Consumer, Kafka } from 'kafkajs';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { stackUp } from '../src/index.js';
import { kafka, stackOptions, uniqueName, waitFor, waitUntil } from './helpers.js';

// The kafkajs 2.2.4 features shardsync relies on, against the pinned broker (KAFKA_COMPAT.md).
// If a broker upgrade removes a protocol version kafkajs still uses, this file fails first.

async function createTopic(client: Kafka, partitions: number): Promise<string> {
  const topic = uniqueName('compat');
  const admin = client.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
  onTestFinished(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });
  return topic;
}

async function produce(client: Kafka, topic: string, count: number, prefix: string): Promise<void> {
  const producer = client.producer();
  await producer.connect();
  await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages: Array.from({ length: count }, (_, i) => ({ key: `${prefix}${i}`, value: `${prefix}${i}` })) }] });
  await producer.disconnect();
}

/** A group member that records what it reads and commits each batch's last offset + 1 itself. */
async function member(client: Kafka, groupId: string, topic: string, seen: string[], assignments: number[][]): Promise<Consumer> {
  const consumer = client.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500, rebalanceTimeout: 10_000 });
  consumer.on(consumer.events.GROUP_JOIN, (event) => assignments.push(event.payload.memberAssignment[topic] ?? []));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async (payload) => {
      const { batch } = payload;
      for (const message of batch.messages) {
        seen.push(`${batch.partition}:${message.offset}`);
        payload.resolveOffset(message.offset);
      }
      await consumer.commitOffsets([{ topic, partition: batch.partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() }]);
      await payload.heartbeat();
    },
  });
  return consumer;
}

describe('kafkajs 2.2.4 against the pinned broker', () => {
  beforeAll(async () => {
    await stackUp(stackOptions);
  });

  it('produces a batch with acks=-1 and reads the topic offsets back', async () => {
    const client = kafka();
    const topic = await createTopic(client, 3);
    await produce(client, topic, 30, 'm');
    const admin = client.admin();
    await admin.connect();
    onTestFinished(() => admin.disconnect());
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0)).toBe(30);
    expect((await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]?.partitions).toHaveLength(3);
  });

  it('a consumer group commits, rebalances onto a second member, and resumes from its commits after a restart', async () => {
    const client = kafka();
    const topic = await createTopic(client, 3);
    const groupId = uniqueName('compat-group');
    await produce(client, topic, 12, 'a');

    const seen: string[] = [];
    const assignments: number[][] = [];
    const first = await member(client, groupId, topic, seen, assignments);
    await waitFor(() => seen.length >= 12, 'the first member to read 12 records');

    const second = await member(client, groupId, topic, seen, assignments);
    await waitFor(() => assignments.length >= 3, 'both members to join the rebalanced group');
    // The last two joins split the three partitions between the members.
    expect([...assignments.at(-1)!, ...assignments.at(-2)!].sort()).toEqual([0, 1, 2]);

    await produce(client, topic, 6, 'b');
    await waitFor(() => seen.length >= 18, 'the group to read the 6 new records');

    const admin = client.admin();
    await admin.connect();
    onTestFinished(() => admin.disconnect());
    const committedTotal = async () => (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions.reduce((sum, p) => sum + Number(p.offset), 0);
    await waitUntil(async () => (await committedTotal()) === 18, 'the group to commit all 18 offsets');

    await first.disconnect();
    await second.disconnect();
    await produce(client, topic, 4, 'c');
    const afterRestart: string[] = [];
    const third = await member(client, groupId, topic, afterRestart, []);
    onTestFinished(() => third.disconnect());
    await waitFor(() => afterRestart.length >= 4, 'the restarted group to read the 4 records produced while it was down');
    expect(new Set([...seen, ...afterRestart]).size).toBe(seen.length + afterRestart.length);
    expect(afterRestart).toHaveLength(4);
  });

  it('deletes topics', async () => {
    const client = kafka();
    const topic = uniqueName('compat-delete');
    const admin = client.admin();
    await admin.connect();
    onTestFinished(() => admin.disconnect());
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.deleteTopics({ topics: [topic] });
    expect(await admin.listTopics()).not.toContain(topic);
  });
});
