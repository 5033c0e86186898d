import { describe, expect, it, onTestFinished } from 'vitest';
import { createTestTopic, testKafka, uniqueName, waitFor } from '@shardsync/testing';

describe('Kafka smoke test', () => {
  it('kafkajs produces with acks=all and a consumer group reads the same messages back', async () => {
    const topic = await createTestTopic({ partitions: 3 });
    const kafka = testKafka();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    onTestFinished(() => producer.disconnect());
    const sent = Array.from({ length: 30 }, (_, i) => ({ key: `k${i % 7}`, value: `v${i}`, headers: { n: String(i) } }));
    await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages: sent }] });

    const consumer = kafka.consumer({ groupId: uniqueName('smoke-group') });
    await consumer.connect();
    onTestFinished(() => consumer.disconnect());
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const received: Array<{ key: string; value: string; n: string }> = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        received.push({ key: message.key?.toString() ?? '', value: message.value?.toString() ?? '', n: message.headers?.['n']?.toString() ?? '' });
      },
    });
    await waitFor(() => (received.length >= sent.length ? true : undefined), { what: 'all 30 messages', timeoutMs: 60_000 });
    expect(received.map((r) => r.value).sort()).toEqual(sent.map((s) => s.value).sort());
    expect(received.every((r) => r.value === `v${r.n}`)).toBe(true);
    // Messages of one key keep their order (one partition per key).
    const k0 = received.filter((r) => r.key === 'k0').map((r) => Number(r.n));
    expect(k0).toEqual([...k0].sort((a, b) => a - b));
  });
});
