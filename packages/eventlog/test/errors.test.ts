import { KafkaJSConnectionError, KafkaJSGroupCoordinatorNotFound, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError, KafkaJSSASLAuthenticationError } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { classifyKafkaError, isCoordinatorMoving } from '../src/errors.js';

/** The error kafkajs throws for a broker's error code (as its `createErrorFromCode` builds it). */
function protocolError(type: string, code: number, retriable: boolean, message: string): KafkaJSProtocolError {
  return new KafkaJSProtocolError(Object.assign(new Error(message), { type, code, retriable }));
}

const notCoordinator = () => protocolError('NOT_COORDINATOR_FOR_GROUP', 16, true, 'This is not the correct coordinator for this group');
const loading = () => protocolError('GROUP_LOAD_IN_PROGRESS', 14, true, "The coordinator is loading and hence can't process requests for this group");
const notAvailable = () => protocolError('GROUP_COORDINATOR_NOT_AVAILABLE', 15, true, 'The group coordinator is not available');
// What kafkajs throws when no broker named a coordinator; it extends KafkaJSNonRetriableError, and
// its typings omit the message the constructor needs.
const notFound = () => new (KafkaJSGroupCoordinatorNotFound as unknown as new (message: string) => Error)('Failed to find group coordinator');

describe('classifyKafkaError of a group coordinator on the move', () => {
  it('a coordinator that moved, is loading or was not found yet is a retriable "unavailable"', () => {
    for (const err of [notCoordinator(), loading(), notAvailable(), notFound()]) {
      expect(classifyKafkaError(err, 'reading the lag of group g'), err.message).toMatchObject({ code: 'SHARDSYNC_EVENTLOG_UNAVAILABLE', retriable: true });
    }
  });

  it('is recognised inside the errors kafkajs wraps it in, even those kafkajs marks not retriable', () => {
    const wrapped = [
      new KafkaJSNumberOfRetriesExceeded(notAvailable(), { retryCount: 5, retryTime: 2000 }),
      // As kafkajs' retrier wraps an error it will not retry (its typings omit the cause).
      Object.assign(new KafkaJSNonRetriableError(loading()), { cause: loading() }),
    ];
    for (const err of wrapped) {
      expect(isCoordinatorMoving(err), err.name).toBe(true);
      expect(classifyKafkaError(err, 'reading the lag of group g')).toMatchObject({ retriable: true });
    }
    expect(isCoordinatorMoving(classifyKafkaError(notCoordinator(), 'reading the lag of group g'))).toBe(true);
  });

  it('other failures are not a coordinator move, and a rejection stays non-retriable', () => {
    const rejected = protocolError('GROUP_AUTHORIZATION_FAILED', 30, false, 'Not authorized to access group');
    const cyclic: { name: string; cause?: unknown } = { name: 'Error' };
    cyclic.cause = cyclic;
    for (const err of [rejected, new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), new Error('boom'), 'NOT_COORDINATOR_FOR_GROUP', null, cyclic]) {
      expect(isCoordinatorMoving(err)).toBe(false);
    }
    expect(classifyKafkaError(rejected, 'reading the lag of group g')).toMatchObject({ code: 'SHARDSYNC_EVENTLOG_REJECTED', retriable: false });
  });
});

describe('classifyKafkaError of a missing topic', () => {
  it('is a non-retriable "topic missing" that names the command creating the topics', () => {
    const err = protocolError('UNKNOWN_TOPIC_OR_PARTITION', 3, true, 'This server does not host this topic-partition');
    const classified = classifyKafkaError(err, 'reading the offsets of topic t');
    expect(classified).toMatchObject({ code: 'SHARDSYNC_EVENTLOG_TOPIC_MISSING', retriable: false });
    expect(classified.message).toBe(
      'reading the offsets of topic t: the topic does not exist (This server does not host this topic-partition); create it with "shardsync init" (the producer and the consumers also create it when they start)',
    );
  });

  it('is recognised inside the error kafkajs throws once its own retries ran out (it marks the code retriable)', () => {
    // What a sendBatch or an admin call on a missing topic rejects with: kafkajs retries
    // UNKNOWN_TOPIC_OR_PARTITION (its metadata may lag a new topic), then gives up with this.
    const missing = protocolError('UNKNOWN_TOPIC_OR_PARTITION', 3, true, 'This server does not host this topic-partition');
    const err = new KafkaJSNumberOfRetriesExceeded(missing, { retryCount: 5, retryTime: 2000 });
    expect(classifyKafkaError(err, 'appending events')).toMatchObject({ code: 'SHARDSYNC_EVENTLOG_TOPIC_MISSING', retriable: false });
  });
});

describe('classifyKafkaError of a connection that cannot be secured or authenticated', () => {
  it('refused SASL credentials are a non-retriable "auth failed", also once kafkajs wrapped them', () => {
    // kafkajs' types declare no constructor argument; its code reads the message from one.
    const SaslError = KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error;
    const refused = new SaslError('SASL SCRAM SHA256 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256');
    for (const err of [refused, new KafkaJSNumberOfRetriesExceeded(refused, { retryCount: 5, retryTime: 2000 })]) {
      expect(classifyKafkaError(err, 'connecting the producer')).toMatchObject({ code: 'SHARDSYNC_EVENTLOG_AUTH_FAILED', retriable: false });
    }
  });

  it('a broker certificate that does not verify is a non-retriable "TLS failed"; a refused connection stays "unavailable"', () => {
    const untrusted = new KafkaJSConnectionError('Connection error: self-signed certificate', { broker: 'b:9093', code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    const otherHost = new KafkaJSConnectionError("Connection error: Hostname/IP does not match certificate's altnames", { broker: 'b:9093', code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    for (const err of [untrusted, otherHost, new KafkaJSNumberOfRetriesExceeded(untrusted, { retryCount: 5, retryTime: 2000 })]) {
      const classified = classifyKafkaError(err, 'connecting the producer');
      expect(classified).toMatchObject({ code: 'SHARDSYNC_EVENTLOG_TLS_FAILED', retriable: false });
      expect(classified.message).toContain('kafka.tls');
    }
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9093', { broker: 'b:9093', code: 'ECONNREFUSED' });
    expect(classifyKafkaError(refused, 'connecting the producer')).toMatchObject({ code: 'SHARDSYNC_EVENTLOG_UNAVAILABLE', retriable: true });
  });
});
