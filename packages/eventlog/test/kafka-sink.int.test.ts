import { createTestTopic, readTopic, testAdmin, testKafka, uniqueName } from '@shardsync/testing';
import { describe, expect, it, onTestFinished } from 'vitest';
import { KafkaEventSink, appendWasUnsent } from '../src/index.js';

/** How an append ended: its error, or undefined when Kafka acknowledged it. */
function outcomeOf(append: Promise<void>): Promise<unknown> {
  return append.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('KafkaEventSink against Kafka', () => {
  it('an append to a topic that does not exist fails as "topic missing", not sent, instead of "unavailable"', async () => {
    const sink = new KafkaEventSink(testKafka());
    onTestFinished(() => sink.close());
    const err: unknown = await sink.append(uniqueName('missing'), [{ key: 'k', value: Buffer.from('v') }]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'SHARDSYNC_EVENTLOG_TOPIC_MISSING', retriable: false });
    expect(appendWasUnsent(err)).toBe(true);
    // The sink still appends to a topic that exists.
    const topic = await createTestTopic({ partitions: 1 });
    await sink.append(topic, [{ key: 'k', value: Buffer.from('v') }]);
  });

  it('an append to a topic that exists is not failed by an append to a missing topic that shares its flush', async () => {
    const sink = new KafkaEventSink(testKafka());
    onTestFinished(() => sink.close());
    const topic = await createTestTopic({ partitions: 1 });
    // Submitted in one event-loop turn: the batcher puts both into one flush.
    const [good, missing] = await Promise.all([outcomeOf(sink.append(topic, [{ key: 'k', value: Buffer.from('v') }])), outcomeOf(sink.append(uniqueName('missing'), [{ key: 'k', value: Buffer.from('v') }]))]);
    expect(missing).toMatchObject({ code: 'SHARDSYNC_EVENTLOG_TOPIC_MISSING' });
    expect(good).toBeUndefined();
    expect((await readTopic(topic)).map((m) => m.value?.toString())).toEqual(['v']);
  });

  it('an append whose event Kafka wrote is never reported "not sent", though a topic deleted meanwhile failed the same flush', async () => {
    const sink = new KafkaEventSink(testKafka());
    onTestFinished(() => sink.close());
    const kept = await createTestTopic({ partitions: 1 });
    const admin = await testAdmin();
    const doomed = uniqueName('doomed');
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: doomed, numPartitions: 1, replicationFactor: 1 }] });
    // Both topics' metadata is cached by the producer: a request goes out for both.
    await Promise.all([sink.append(kept, [{ key: 'k', value: Buffer.from('first') }]), sink.append(doomed, [{ key: 'k', value: Buffer.from('first') }])]);
    await admin.deleteTopics({ topics: [doomed] });

    const [written] = await Promise.all([outcomeOf(sink.append(kept, [{ key: 'k', value: Buffer.from('second') }])), outcomeOf(sink.append(doomed, [{ key: 'k', value: Buffer.from('second') }]))]);
    // Kafka wrote it: told "not sent", the producer would delete a staged body its event references.
    expect((await readTopic(kept)).map((m) => m.value?.toString())).toEqual(['first', 'second']);
    expect(appendWasUnsent(written)).toBe(false);
    expect(written).toBeUndefined();
  });
});
