import type { Kafka, Producer, ProducerBatch, ProducerConfig } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { appendWasUnsent } from '../src/errors.js';
import { DEFAULT_FLUSH_MAX_BYTES, KafkaEventSink } from '../src/kafka-sink.js';

/** A stand-in for a kafkajs producer: records what it was asked to send, fails when told to. */
class FakeProducer {
  readonly batches: ProducerBatch[] = [];
  connects = 0;
  disconnects = 0;
  failNext = false;
  failConnect = false;

  connect(): Promise<void> {
    this.connects += 1;
    if (this.failConnect) {
      this.failConnect = false;
      return Promise.reject(Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), { name: 'KafkaJSConnectionError', retriable: true }));
    }
    return Promise.resolve();
  }

  disconnect(): Promise<void> {
    this.disconnects += 1;
    return Promise.resolve();
  }

  sendBatch(batch: ProducerBatch): Promise<[]> {
    this.batches.push(batch);
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(Object.assign(new Error('The request timed out'), { name: 'KafkaJSRequestTimeoutError', retriable: true }));
    }
    return Promise.resolve([]);
  }
}

function fakeKafka(): { kafka: Kafka; producers: FakeProducer[]; configs: ProducerConfig[] } {
  const producers: FakeProducer[] = [];
  const configs: ProducerConfig[] = [];
  const kafka = {
    producer: (config: ProducerConfig = {}) => {
      configs.push(config);
      const p = new FakeProducer();
      producers.push(p);
      return p as unknown as Producer;
    },
  } as unknown as Kafka;
  return { kafka, producers, configs };
}

const event = (key: string, bytes: number) => ({ key, value: Buffer.alloc(bytes), headers: { 'shardsync-schema': 'abc' } });

describe('KafkaEventSink', () => {
  it('appends ask for acks=all from an idempotent producer, so an acknowledged event is on every in-sync replica', async () => {
    const { kafka, producers, configs } = fakeKafka();
    const sink = new KafkaEventSink(kafka);
    await sink.append('t', [event('k1', 10)]);
    expect(configs).toMatchObject([{ idempotent: true, maxInFlightRequests: 1 }]);
    expect(producers[0]?.batches.map((b) => b.acks)).toEqual([-1]);
    await sink.close();
  });

  it('after a failed send, the next events go out through a new producer (a fresh producer id and sequence numbers)', async () => {
    const { kafka, producers } = fakeKafka();
    const sink = new KafkaEventSink(kafka);
    await sink.append('t', [event('k1', 10)]);
    const first = producers[0]!;
    first.failNext = true;
    await expect(sink.append('t', [event('k2', 10)])).rejects.toMatchObject({ retriable: true });
    expect(first.disconnects).toBe(1);

    await sink.append('t', [event('k3', 10)]);
    expect(producers).toHaveLength(2);
    const second = producers[1]!;
    expect(second.connects).toBe(1);
    expect(second.batches.flatMap((b) => b.topicMessages?.flatMap((t) => t.messages.map((m) => m.key)) ?? [])).toEqual(['k3']);
    expect(first.batches).toHaveLength(2);
    await sink.close();
    expect(second.disconnects).toBe(1);
  });

  it('events appended together are split so no send carries more than one record batch may hold', async () => {
    const { kafka, producers } = fakeKafka();
    const sink = new KafkaEventSink(kafka);
    // 24 events of 64 KiB for one key: 1.5 MiB, over Kafka's default 1 MiB per partition batch.
    await Promise.all(Array.from({ length: 24 }, () => sink.append('t', [event('hot', 64 * 1024)])));
    const sends = producers[0]!.batches.map((b) => (b.topicMessages ?? []).flatMap((t) => t.messages));
    expect(sends.length).toBeGreaterThan(1);
    expect(sends.flat()).toHaveLength(24);
    for (const messages of sends) {
      const bytes = messages.reduce((n, m) => n + (m.value as Buffer).length, 0);
      expect(bytes).toBeLessThanOrEqual(DEFAULT_FLUSH_MAX_BYTES);
    }
    await sink.close();
  });

  it('an append rejected as "not sent" has none of its events written, even those of later flushes', async () => {
    const { kafka, producers } = fakeKafka();
    const sink = new KafkaEventSink(kafka, { batching: { maxItems: 1 } });
    // The first flush cannot connect (nothing sent); the second connects and is written.
    producers[0]!.failConnect = true;
    const failed = await sink.append('t', [event('a', 10), event('b', 10)]).then(
      () => undefined,
      (e: unknown) => e,
    );
    await sink.close();
    const written = producers.flatMap((p) => p.batches).flatMap((b) => b.topicMessages?.flatMap((t) => t.messages.map((m) => m.key)) ?? []);
    expect(written).toEqual(['b']);
    // 'b' reached the log: the caller must not be told that nothing did.
    expect(appendWasUnsent(failed)).toBe(false);
  });
});
