import { classifyKafkaError, EventLogError } from '@shardsync/eventlog';
import { KafkaJSConnectionError, KafkaJSGroupCoordinatorNotFound, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { CliError } from '../src/errors.js';
import { isCoordinatorStarting, withCoordinatorRetry } from '../src/kafka/coordinator-retry.js';

/** The error kafkajs throws for a broker's error code (as its `createErrorFromCode` builds it). */
function protocolError(type: string, code: number, retriable: boolean, message: string): KafkaJSProtocolError {
  return new KafkaJSProtocolError(Object.assign(new Error(message), { type, code, retriable }));
}

const notCoordinator = () => protocolError('NOT_COORDINATOR_FOR_GROUP', 16, true, 'This is not the correct coordinator for this group');
const loading = () => protocolError('GROUP_LOAD_IN_PROGRESS', 14, true, "The coordinator is loading and hence can't process requests for this group");
const coordinatorNotAvailable = () => protocolError('GROUP_COORDINATOR_NOT_AVAILABLE', 15, true, 'The group coordinator is not available');
const leaderNotAvailable = () => protocolError('LEADER_NOT_AVAILABLE', 5, true, 'There is no leader for this topic-partition as we are in the middle of a leadership election');
// What kafkajs throws when no broker named a coordinator (each lookup answered "not available"
// until its retries ran out); its typings omit the message the constructor needs.
const coordinatorNotFound = () => new (KafkaJSGroupCoordinatorNotFound as unknown as new (message: string) => Error)('Failed to find group coordinator');
const unknownTopic = () => protocolError('UNKNOWN_TOPIC_OR_PARTITION', 3, true, 'This server does not host this topic-partition');

/** No waiting between attempts: the jitter always picks 0 ms. */
const noDelay = { random: () => 0 };

describe('isCoordinatorStarting', () => {
  it('recognises the answers of a broker that is still taking up its group coordinator or a partition leadership', () => {
    for (const err of [notCoordinator(), loading(), coordinatorNotAvailable(), leaderNotAvailable(), coordinatorNotFound()]) {
      expect(isCoordinatorStarting(err), err.message).toBe(true);
    }
  });

  it('looks through the errors kafkajs and shardsync wrap them in', () => {
    expect(isCoordinatorStarting(new KafkaJSNumberOfRetriesExceeded(coordinatorNotAvailable(), { retryCount: 5, retryTime: 2000 }))).toBe(true);
    expect(isCoordinatorStarting(classifyKafkaError(notCoordinator(), 'reading the committed offsets of group g'))).toBe(true);
  });

  it('leaves every other failure alone: a missing topic, an unreachable broker, a non-retriable answer, anything not from Kafka', () => {
    const notRetriable = protocolError('NOT_COORDINATOR_FOR_GROUP', 16, false, 'marked not retriable');
    const cyclic: { name: string; cause?: unknown } = { name: 'Error' };
    cyclic.cause = cyclic;
    for (const err of [unknownTopic(), new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), notRetriable, new Error('boom'), 'NOT_COORDINATOR_FOR_GROUP', null, undefined, cyclic]) {
      expect(isCoordinatorStarting(err)).toBe(false);
    }
  });
});

describe('withCoordinatorRetry', () => {
  it('tries again while the coordinator is starting and returns the first answer', async () => {
    const answers: Error[] = [coordinatorNotAvailable(), loading(), notCoordinator()];
    let calls = 0;
    const result = await withCoordinatorRetry(
      'reading the committed offsets of group g',
      async () => {
        calls++;
        const next = answers.shift();
        if (next !== undefined) throw next;
        return 'offsets';
      },
      noDelay,
    );
    expect(result).toBe('offsets');
    expect(calls).toBe(4);
  });

  it('throws any other error at once, classified with what was being done', async () => {
    let calls = 0;
    const failure = withCoordinatorRetry(
      'reading the committed offsets of group g',
      async () => {
        calls++;
        throw unknownTopic();
      },
      noDelay,
    );
    await expect(failure).rejects.toBeInstanceOf(EventLogError);
    await expect(failure).rejects.toMatchObject({ code: 'SHARDSYNC_EVENTLOG_TOPIC_MISSING', message: expect.stringContaining('reading the committed offsets of group g') as unknown });
    expect(calls).toBe(1);
  });

  it('gives up after the last attempt with a retriable error naming the operation and the wait', async () => {
    let calls = 0;
    let clock = 0;
    const failure = withCoordinatorRetry(
      'reading the committed offsets of group shardsync.dlq-replay',
      async () => {
        calls++;
        clock += 1500;
        throw notCoordinator();
      },
      { ...noDelay, maxAttempts: 4, now: () => clock },
    );
    await expect(failure).rejects.toBeInstanceOf(CliError);
    await expect(failure).rejects.toMatchObject({
      code: 'SHARDSYNC_CLI_NOT_AVAILABLE',
      retriable: true,
      message:
        "reading the committed offsets of group shardsync.dlq-replay: Kafka's group coordinator was still not ready after 4 attempt(s) over 6.0 s (This is not the correct coordinator for this group)",
    });
    expect(calls).toBe(4);
  });

  it('stops trying once its signal aborts', async () => {
    const controller = new AbortController();
    let calls = 0;
    const failure = withCoordinatorRetry(
      'joining consumer group g to read t',
      async () => {
        calls++;
        controller.abort(new Error('interrupted'));
        throw loading();
      },
      { ...noDelay, signal: controller.signal },
    );
    await expect(failure).rejects.toBeInstanceOf(EventLogError);
    await expect(failure).rejects.toMatchObject({ message: expect.stringContaining('joining consumer group g to read t') as unknown });
    expect(calls).toBe(1);
  });
});
