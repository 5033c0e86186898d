import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, kafkaConnectionOf, topologySchema, type Topology } from '../src/index.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function kafka(extra: Record<string, unknown>): Topology['kafka'] {
  return topologySchema.parse({
    kafka: { brokers: ['broker:9093'], ...extra },
    redis: { url: 'redis://127.0.0.1:6379' },
    datacenters: [{ name: 'dc-a', s3: { endpoint: 'http://127.0.0.1:1', region: 'r', bucket: 'bucket' } }],
    datasets: [{ name: 'ds', datacenters: ['dc-a'] }],
  }).kafka;
}

function problemsOf(extra: Record<string, unknown>): string[] {
  const result = topologySchema.safeParse({
    kafka: { brokers: ['broker:9093'], ...extra },
    redis: { url: 'redis://127.0.0.1:6379' },
    datacenters: [{ name: 'dc-a', s3: { endpoint: 'http://127.0.0.1:1', region: 'r', bucket: 'bucket' } }],
    datasets: [{ name: 'ds', datacenters: ['dc-a'] }],
  });
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

function pemFile(text = PEM): string {
  const file = join(mkdtempSync(join(tmpdir(), 'shardsync-pem-')), 'ca.pem');
  writeFileSync(file, text);
  return file;
}

function thrown(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('kafka.tls and kafka.sasl', () => {
  it('a topology without them connects in plaintext', () => {
    expect(kafkaConnectionOf(kafka({}), {})).toEqual({ brokers: ['broker:9093'] });
  });

  it('reads the certificate files and the credentials of the variables the topology names', () => {
    const ca = pemFile();
    const connection = kafkaConnectionOf(kafka({ tls: { caFile: ca }, sasl: { mechanism: 'scram-sha-512', usernameEnv: 'K_USER', passwordEnv: 'K_PASS' } }), { K_USER: 'svc', K_PASS: 'secret' });
    expect(connection).toEqual({ brokers: ['broker:9093'], tls: { ca: PEM, cert: undefined, key: undefined }, sasl: { mechanism: 'scram-sha-512', username: 'svc', password: 'secret' } });
  });

  it('an unset or empty credential variable stops the start, naming the variable', () => {
    const topology = kafka({ sasl: { mechanism: 'plain', usernameEnv: 'K_USER', passwordEnv: 'K_PASS' } });
    const err = thrown(() => kafkaConnectionOf(topology, { K_USER: 'svc', K_PASS: '' }));
    expect(err.code).toBe('SHARDSYNC_CONFIG_MISSING_SECRET');
    expect(err.message).toBe('environment variable K_PASS is not set; the topology names it as the Kafka SASL plain password');
  });

  it('a certificate file that cannot be read, or is not PEM, is named with its field', () => {
    const missing = join(tmpdir(), 'shardsync-no-such-dir', 'ca.pem');
    expect(thrown(() => kafkaConnectionOf(kafka({ tls: { caFile: missing } }), {})).message).toMatch(/^kafka\.tls\.caFile: cannot read .*ca\.pem \(ENOENT/);
    const der = pemFile('0\x82\x01\n binary');
    expect(thrown(() => kafkaConnectionOf(kafka({ tls: { certFile: der, keyFile: pemFile() } }), {})).message).toBe(`kafka.tls.certFile: ${der} is not PEM (no "-----BEGIN" line)`);
  });

  it('refuses a client certificate without its key, an unknown mechanism and secrets written in the file', () => {
    expect(problemsOf({ tls: { certFile: '/c.pem' } })).toEqual(['kafka.tls: certFile and keyFile go together (a client certificate and its key, for mutual TLS)']);
    expect(problemsOf({ sasl: { mechanism: 'gssapi', usernameEnv: 'U', passwordEnv: 'P' } })[0]).toMatch(/^kafka\.sasl\.mechanism: /);
    expect(problemsOf({ sasl: { mechanism: 'plain', username: 'svc', password: 'secret' } })).toContain('kafka.sasl: Unrecognized keys: "username", "password"');
  });
});
