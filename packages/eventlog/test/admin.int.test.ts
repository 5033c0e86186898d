import { createTestTopic, testAdmin, testKafka, uniqueName } from '@shardsync/testing';
import { describe, expect, it, onTestFinished } from 'vitest';
import { EventLogAdmin, KafkaEventSink } from '../src/index.js';

describe('EventLogAdmin.groupLag against Kafka', () => {
  it('counts only retained events a group has not read: those retention removed before it got to them are not lag', async () => {
    const topic = await createTestTopic({ partitions: 1 });
    const sink = new KafkaEventSink(testKafka());
    onTestFinished(() => sink.close());
    await sink.append(topic, ['a', 'b', 'c', 'd'].map((k) => ({ key: k, value: Buffer.from(`value ${k}`) })));
    const groupId = uniqueName('lag-group');
    const kafkaAdmin = await testAdmin();
    await kafkaAdmin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '1' }] });
    const admin = new EventLogAdmin(testKafka());
    onTestFinished(() => admin.close());
    expect(await admin.groupLag(groupId, topic)).toEqual([{ partition: 0, committed: '1', high: '4', next: '1', lag: 3 }]);

    // Retention removes the first three events: the group resumes at the fourth, the only one left to read.
    await kafkaAdmin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '3' }] });
    expect(await admin.groupLag(groupId, topic)).toEqual([{ partition: 0, committed: '1', high: '4', next: '3', lag: 1 }]);
  });
});
