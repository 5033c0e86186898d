import { describe, expect, it } from 'vitest';
import { createKafkaClient } from '../src/kafka-client.js';

type Line = [level: string, message: string];

/** A client whose kafkajs log lines are collected (no connection is made). */
function logged(): { lines: Line[]; logger: ReturnType<ReturnType<typeof createKafkaClient>['logger']> } {
  const lines: Line[] = [];
  const kafka = createKafkaClient({ brokers: ['127.0.0.1:1'], clientId: 'test', log: (level, message) => void lines.push([level, message]) });
  return { lines, logger: kafka.logger() };
}

describe('createKafkaClient logging', () => {
  it('logs the broker answers of a coordinator move, a rebalance or an existing topic as warnings, and other failed responses as errors', () => {
    const { lines, logger } = logged();
    logger.error('Response GroupCoordinator(key: 10, version: 2)', { error: 'The group coordinator is not available' });
    logger.error('Response Heartbeat(key: 12, version: 3)', { error: 'The group is rebalancing, so a rejoin is needed' });
    logger.error('Response CreateTopics(key: 19, version: 3)', { error: 'Topic creation errors' });
    logger.error('Response Produce(key: 0, version: 7)', { error: 'This server does not host this topic-partition' });
    logger.error('Crash: KafkaJSNumberOfRetriesExceeded', { error: 'The group coordinator is not available' });
    expect(lines).toEqual([
      ['warn', 'Response GroupCoordinator(key: 10, version: 2)'],
      ['warn', 'Response Heartbeat(key: 12, version: 3)'],
      ['warn', 'Response CreateTopics(key: 19, version: 3)'],
      ['error', 'Response Produce(key: 0, version: 7)'],
      ['error', 'Crash: KafkaJSNumberOfRetriesExceeded'],
    ]);
  });

  it("keeps kafkajs' warning about bounded idempotent retries out of the warnings", () => {
    const { lines, logger } = logged();
    logger.warn('Limiting retries for the idempotent producer may invalidate EoS guarantees');
    logger.warn('Something else');
    expect(lines).toEqual([
      ['debug', 'Limiting retries for the idempotent producer may invalidate EoS guarantees'],
      ['warn', 'Something else'],
    ]);
  });
});
