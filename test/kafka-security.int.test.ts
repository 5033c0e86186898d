import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { runCli, type CliIO } from '@shardsync/cli';
import { kafkaConnectionOf, type Topology } from '@shardsync/config';
import { createKafkaClient, EventLogAdmin, KafkaEventSink, type KafkaClientOptions } from '@shardsync/eventlog';
import { decodeShardUpdate, objectKeyOf } from '@shardsync/events';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createTestTopology, freePort, rawS3Client, spawnService, startSecuredKafka, uniqueName, waitFor, type SecuredKafka } from '@shardsync/testing';

let broker: SecuredKafka;

beforeAll(async () => {
  broker = await startSecuredKafka();
});

afterAll(async () => {
  await broker?.stop();
});

type Security = Pick<KafkaClientOptions, 'tls' | 'sasl'>;

function sasl(mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512', password = broker.user.password): Security['sasl'] {
  return { mechanism, username: broker.user.name, password };
}

function caPem(): string {
  return readFileSync(broker.caFile, 'utf8');
}

/** A client of the secured broker as the services build one, and its sink, closed when the test ends. */
function sinkFor(address: string, security: Security): { kafka: Kafka; sink: KafkaEventSink } {
  const kafka = createKafkaClient({ brokers: [address], clientId: 'shardsync-security-test', ...security, log: () => undefined });
  const sink = new KafkaEventSink(kafka);
  onTestFinished(() => sink.close());
  return { kafka, sink };
}

interface Record_ {
  value: Buffer;
  headers: Record<string, string>;
}

/** Every record of `topic`, read through the broker's plaintext listener once `expected` are there. */
async function recordsOf(topic: string, expected: number): Promise<Record_[]> {
  const consumer = new Kafka({ clientId: 'shardsync-security-reader', brokers: [broker.plaintext], logLevel: logLevel.NOTHING }).consumer({ groupId: uniqueName('reader') });
  const records: Record_[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([name, v]) => [name, Buffer.isBuffer(v) ? v.toString('utf8') : String(v)]));
        records.push({ value: message.value ?? Buffer.alloc(0), headers });
      },
    });
    await waitFor(() => (records.length >= expected ? true : undefined), { timeoutMs: 30_000, what: `${expected} record(s) in ${topic}` });
  } finally {
    await consumer.disconnect();
  }
  return records;
}

/** Creates a topic and appends one event through the given listener and settings; resolves with what the topic then holds. */
async function roundTrip(address: string, security: Security): Promise<string[]> {
  const { kafka, sink } = sinkFor(address, security);
  const topic = uniqueName('secured');
  await new EventLogAdmin(kafka).ensureTopics([{ topic, partitions: 1, replicationFactor: 1 }]);
  const value = Buffer.from(`through ${address}`);
  await sink.append(topic, [{ key: 'k', value }]);
  return (await recordsOf(topic, 1)).map((r) => r.value.toString('utf8'));
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (err: unknown) => err,
  );
}

describe('Kafka over SASL and TLS (a broker of its own with secured listeners)', () => {
  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)('SASL %s over plaintext creates a topic and appends an event', async (mechanism) => {
    const values = await roundTrip(broker.saslPlaintext, { sasl: sasl(mechanism) });
    expect(values).toEqual([`through ${broker.saslPlaintext}`]);
  });

  it('TLS verified against the CA file appends an event, with a client certificate and with SASL', async () => {
    const client = { cert: readFileSync(broker.client.certFile, 'utf8'), key: readFileSync(broker.client.keyFile, 'utf8') };
    expect(await roundTrip(broker.ssl, { tls: { ca: caPem(), ...client } })).toEqual([`through ${broker.ssl}`]);
    expect(await roundTrip(broker.saslSsl, { tls: { ca: caPem() }, sasl: sasl('scram-sha-256') })).toEqual([`through ${broker.saslSsl}`]);
  });

  it('a wrong SASL password fails as SHARDSYNC_EVENTLOG_AUTH_FAILED, not retriable, naming kafka.sasl', async () => {
    const { sink } = sinkFor(broker.saslPlaintext, { sasl: sasl('scram-sha-256', 'not-the-password') });
    const err = await failureOf(sink.append(uniqueName('never'), [{ key: 'k', value: Buffer.from('v') }]));
    expect(err).toMatchObject({ code: 'SHARDSYNC_EVENTLOG_AUTH_FAILED', retriable: false });
    expect((err as Error).message).toContain('kafka.sasl');
  });

  it('a listener that requires a client certificate refuses a client without one as SHARDSYNC_EVENTLOG_TLS_FAILED', async () => {
    const { sink } = sinkFor(broker.ssl, { tls: { ca: caPem() } });
    const err = await failureOf(sink.append(uniqueName('never'), [{ key: 'k', value: Buffer.from('v') }]));
    expect(err).toMatchObject({ code: 'SHARDSYNC_EVENTLOG_TLS_FAILED', retriable: false });
  });

  it("a broker certificate no trusted CA signed fails as SHARDSYNC_EVENTLOG_TLS_FAILED, not as Kafka being unavailable", async () => {
    // Node's built-in CAs only: the broker's self-signed certificate is not among them.
    const { sink } = sinkFor(broker.saslSsl, { tls: {}, sasl: sasl('plain') });
    const err = await failureOf(sink.append(uniqueName('never'), [{ key: 'k', value: Buffer.from('v') }]));
    expect(err).toMatchObject({ code: 'SHARDSYNC_EVENTLOG_TLS_FAILED', retriable: false });
    expect((err as Error).message).toContain('kafka.tls');
  });

  it('the producer and a consumer connect with the topology kafka.tls and kafka.sasl, credentials from the variables it names, and the update reaches the datacenter', async () => {
    const base = await createTestTopology();
    const topology: Topology = {
      ...base,
      kafka: {
        ...base.kafka,
        brokers: [broker.saslSsl],
        tls: { caFile: broker.caFile },
        sasl: { mechanism: 'scram-sha-512', usernameEnv: 'TEST_KAFKA_USER', passwordEnv: 'TEST_KAFKA_PASSWORD' },
      },
    };
    // What the services will resolve, checked here too: a missing variable would stop them at start.
    expect(kafkaConnectionOf(topology.kafka, { TEST_KAFKA_USER: broker.user.name, TEST_KAFKA_PASSWORD: broker.user.password }).sasl).toEqual(sasl('scram-sha-512'));
    const [origin, peer] = topology.datacenters.map((d) => d.name);
    const secrets = {
      SHARDSYNC_LOG_LEVEL: 'warn',
      // This process's environment may point every service at the stack's broker; not this one.
      SHARDSYNC_KAFKA_BROKERS: broker.saslSsl,
      TEST_KAFKA_USER: broker.user.name,
      TEST_KAFKA_PASSWORD: broker.user.password,
    };
    const port = await freePort();
    const token = 'security-test-token-0123456789';
    const producer = spawnService('producer', topology, { ...secrets, SHARDSYNC_DATACENTER: origin ?? '', SHARDSYNC_PRODUCER_PORT: String(port), SHARDSYNC_PRODUCER_TOKENS: `tests:${token}:*` });
    const consumer = spawnService('consumer', topology, { ...secrets, SHARDSYNC_DATACENTER: peer ?? '', SHARDSYNC_CONSUMER_PORT: '0' });
    const url = `http://127.0.0.1:${port}`;
    const dataset = topology.datasets[0]?.name ?? '';
    const answer = await waitFor(
      async () => {
        if (producer.child.exitCode !== null) throw new Error(`the producer exited with ${producer.child.exitCode}`);
        const res = await fetch(`${url}/v1/objects/${dataset}/secured.bin`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: 'over SASL_SSL' }).catch(() => undefined);
        return res?.status === 202 ? ((await res.json()) as { eventId: string; sha256: string }) : undefined;
      },
      { timeoutMs: 60_000, what: 'the producer to accept a put' },
    );
    const [record] = await recordsOf(topology.kafka.topics.updates, 1);
    const event = decodeShardUpdate(record?.value ?? Buffer.alloc(0), record?.headers ?? {});
    expect(event).toMatchObject({ eventId: answer.eventId, dataset, key: 'secured.bin' });
    // The consumer joined its group and read the event through the same secured listener.
    const s3 = rawS3Client(peer ?? '');
    const bucket = topology.datacenters.find((d) => d.name === peer)?.s3.bucket;
    const body = await waitFor(
      async () => {
        if (consumer.child.exitCode !== null) throw new Error(`the consumer exited with ${consumer.child.exitCode}`);
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: objectKeyOf(dataset, 'secured.bin') })).catch(() => undefined);
        return got?.Body === undefined ? undefined : await got.Body.transformToString();
      },
      { timeoutMs: 90_000, what: `the update to reach ${peer ?? ''}` },
    );
    expect(body).toBe('over SASL_SSL');
  });

  it('the CLI connects with the topology kafka.tls and kafka.sasl: shardsync init creates the topics on the secured broker', async () => {
    const base = await createTestTopology();
    const topics = { updates: uniqueName('cli-secured-updates'), deadLetters: uniqueName('cli-secured-dlq') };
    const topology: Topology = {
      ...base,
      kafka: { ...base.kafka, topics, brokers: [broker.saslSsl], tls: { caFile: broker.caFile }, sasl: { mechanism: 'plain', usernameEnv: 'TEST_KAFKA_USER', passwordEnv: 'TEST_KAFKA_PASSWORD' } },
    };
    const file = join(mkdtempSync(join(tmpdir(), 'shardsync-security-')), 'topology.json');
    writeFileSync(file, JSON.stringify(topology));
    let stderr = '';
    const io: CliIO = {
      stdout: { write: () => true, isTTY: false },
      stderr: { write: (text) => ((stderr += text), true), isTTY: false },
      // The secrets only in the environment the CLI is given, none of this process's overrides.
      env: { TEST_KAFKA_USER: broker.user.name, TEST_KAFKA_PASSWORD: broker.user.password },
    };
    expect(await runCli(['init', '--topology', file, '--json'], io), stderr).toBe(0);
    const admin = new Kafka({ clientId: 'shardsync-security-check', brokers: [broker.plaintext], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      expect(await admin.listTopics()).toEqual(expect.arrayContaining([topics.updates, topics.deadLetters]));
    } finally {
      await admin.disconnect();
    }
  });
});
