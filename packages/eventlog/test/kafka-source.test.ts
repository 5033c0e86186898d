import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { toDeadLetter } from '../src/dead-letter.js';
import { toConsumedEvent } from '../src/kafka-source.js';

describe('toConsumedEvent', () => {
  it('hands over only string headers, also for a header without a value (null), which kafkajs reads from a record another client wrote', () => {
    // As kafkajs decodes a record Java's client wrote with `new RecordHeader("empty", null)`
    // (seen against Kafka 4.1.1): the header's value is null.
    const message = {
      offset: '7',
      key: Buffer.from('k'),
      value: Buffer.from('garbage'),
      timestamp: '1000',
      attributes: 0,
      headers: { empty: null, kept: Buffer.from('x'), many: [null, Buffer.from('y')] },
    } as unknown as KafkaMessage;
    const event = toConsumedEvent('t', 0, message);
    expect(event.headers).toEqual({ kept: 'x', many: 'y' });
    // Such a record is undecodable and dead-lettered; its letter's headers must be strings too
    // (a null one made every append of the letter throw a TypeError, the partition stuck for good).
    const letter = toDeadLetter(event, { datacenter: 'dc-a', code: 'SHARDSYNC_UNDECODABLE_EVENT', message: 'no schema' }, 0);
    for (const value of Object.values(letter.headers ?? {})) expect(typeof value).toBe('string');
  });
});
