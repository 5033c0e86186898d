import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';

/** A kafkajs client for the bench itself (baselines, admin), quiet. */
export function benchKafka(brokers: readonly string[], clientId: string): Kafka {
  return new Kafka({ brokers: [...brokers], clientId, logLevel: logLevel.NOTHING });
}

/** Waits until every group is Stable with at least one member: the consumers own their partitions. */
export async function waitForGroups(kafka: Kafka, groupIds: readonly string[], timeoutMs = 60_000): Promise<void> {
  if (groupIds.length === 0) return;
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { groups } = await admin.describeGroups([...groupIds]).catch(() => ({ groups: [] as Array<{ groupId: string; state: string; members: unknown[] }> }));
      const ready = groupIds.every((g) => groups.some((d) => d.groupId === g && d.state === 'Stable' && d.members.length > 0));
      if (ready) return;
      if (Date.now() > deadline) throw new Error(`consumer groups not stable within ${timeoutMs / 1000} s: ${groups.map((g) => `${g.groupId}=${g.state}`).join(', ')}`);
      await sleep(250);
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * Creates a topic with the given partitions (idempotent), retrying for up to a minute: a broker
 * that has just started answers "does not host this topic-partition" while it elects leaders.
 */
export async function ensureTopic(kafka: Kafka, topic: string, partitions: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (let attempt = 1; ; attempt++) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
      const offsets = await admin.fetchTopicOffsets(topic);
      if (offsets.length === partitions) return;
      throw new Error(`topic ${topic} has ${offsets.length} of ${partitions} partitions so far`);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(Math.min(2_000, 200 * attempt));
    } finally {
      await admin.disconnect();
    }
  }
}

/**
 * The ingest baseline: the best a bare kafkajs producer does on this broker with `concurrency`
 * outstanding records: one loop sending `concurrency` keyed 1 KiB records per `sendBatch`
 * (acks=all, as the producer service), awaiting each. Returns records per second over `durationMs`.
 */
export async function sendBatchLoop(kafka: Kafka, topic: string, concurrency: number, recordBytes: number, durationMs: number): Promise<number> {
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const value = randomBytes(recordBytes);
    let n = 0;
    let seq = 0;
    const batch = () =>
      producer.sendBatch({
        acks: -1,
        compression: CompressionTypes.None,
        topicMessages: [{ topic, messages: Array.from({ length: concurrency }, () => ({ key: `small/ingest/k-${seq++ % 100_000}`, value })) }],
      });
    // Warm-up: connections, metadata, the idempotent producer id.
    await batch();
    const start = Date.now();
    while (Date.now() - start < durationMs) {
      await batch();
      n += concurrency;
    }
    return (n * 1000) / (Date.now() - start);
  } finally {
    await producer.disconnect();
  }
}

/**
 * Waits until a fresh broker can run consumer groups: joins a throwaway group once. Right after a
 * start, Kafka creates `__consumer_offsets` and answers "group coordinator not available" for a
 * few seconds; services started then may give up.
 */
export async function warmUpGroups(kafka: Kafka, timeoutMs = 90_000): Promise<void> {
  const topic = 'shardsync.bench.warmup';
  await ensureTopic(kafka, topic, 1);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const consumer = kafka.consumer({ groupId: `shardsync.bench.warmup.${Date.now().toString(36)}` });
    try {
      const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
      await consumer.connect();
      await consumer.subscribe({ topics: [topic] });
      await consumer.run({ eachMessage: async () => undefined });
      await Promise.race([joined, sleep(20_000).then(() => Promise.reject(new Error('no group join within 20 s')))]);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`Kafka does not run consumer groups yet: ${err instanceof Error ? err.message : String(err)}`);
      await sleep(1_000);
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  }
}
