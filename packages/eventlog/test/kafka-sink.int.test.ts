import { createTestTopic, testKafka, uniqueName } from '@shardsync/testing';
import { describe, expect, it, onTestFinished } from 'vitest';
import { KafkaEventSink, appendWasUnsent } from '../src/index.js';

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
});
