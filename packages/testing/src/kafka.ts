import { Kafka, logLevel, type Admin } from 'kafkajs';
import { onTestFinished } from 'vitest';
import { uniqueName } from './names.js';
import { waitFor } from './wait.js';
import { stackInfo } from './stack-info.js';

/** A kafkajs client for the stack's broker, quiet unless something is wrong. */
export function testKafka(clientId = 'shardsync-test'): Kafka {
  return new Kafka({ clientId, brokers: stackInfo().kafka.brokers, logLevel: logLevel.ERROR });
}

/** A connected admin client, disconnected when the test ends. */
export async function testAdmin(): Promise<Admin> {
  const admin = testKafka('shardsync-test-admin').admin();
  await admin.connect();
  onTestFinished(() => admin.disconnect());
  return admin;
}

/** Creates a topic with a unique name, deleted when the test ends. */
export async function createTestTopic(options: { prefix?: string; partitions?: number } = {}): Promise<string> {
  const admin = await testAdmin();
  const topic = uniqueName(options.prefix ?? 'test-topic');
  // Right after a broker restart (fault tests) metadata can lag behind: retry until the new
  // topic's partitions answer.
  await waitFor(
    async () => {
      // A day: far longer than any test, and shorter than the consumers' default tombstone grace,
      // which they check the topic's retention against.
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: options.partitions ?? 3, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: String(24 * 3600 * 1000) }] }] });
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.length === (options.partitions ?? 3) ? true : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 500, what: `topic ${topic} to be ready` },
  );
  onTestFinished(async () => {
    const cleaner = testKafka('shardsync-test-cleanup').admin();
    await cleaner.connect();
    try {
      await cleaner.deleteTopics({ topics: [topic] });
    } finally {
      await cleaner.disconnect();
    }
  });
  return topic;
}
