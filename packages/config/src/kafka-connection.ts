import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';
import { requireSecret } from './lookup.js';
import type { Topology } from './topology-schema.js';

/** How to reach and authenticate to the brokers, with secrets and certificates read: what a Kafka client is built from. */
export interface KafkaConnection {
  brokers: string[];
  /** PEM text of the files `kafka.tls` names; absent for a plaintext connection. */
  tls?: { ca?: string | undefined; cert?: string | undefined; key?: string | undefined } | undefined;
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string } | undefined;
}

/**
 * Resolves `kafka.tls` and `kafka.sasl`: reads the certificate files and the credentials'
 * environment variables, so that a missing file or variable stops a service at start with an
 * error naming it, rather than as a refused connection later.
 */
export function kafkaConnectionOf(kafka: Topology['kafka'], env: NodeJS.ProcessEnv = process.env): KafkaConnection {
  const connection: KafkaConnection = { brokers: kafka.brokers };
  if (kafka.tls !== undefined) {
    const { caFile, certFile, keyFile } = kafka.tls;
    connection.tls = { ca: readPem(caFile, 'kafka.tls.caFile'), cert: readPem(certFile, 'kafka.tls.certFile'), key: readPem(keyFile, 'kafka.tls.keyFile') };
  }
  if (kafka.sasl !== undefined) {
    const { mechanism, usernameEnv, passwordEnv } = kafka.sasl;
    const what = `the Kafka SASL ${mechanism}`;
    connection.sasl = { mechanism, username: requireSecret(env, usernameEnv, `${what} user name`), password: requireSecret(env, passwordEnv, `${what} password`) };
  }
  return connection;
}

function readPem(path: string | undefined, field: string): string | undefined {
  if (path === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('SHARDSYNC_CONFIG_INVALID', `${field}: cannot read ${path} (${(err as Error).message})`, [], { cause: err });
  }
  // A DER file, or the wrong file, would fail only inside the TLS handshake, with a less clear message.
  if (!text.includes('-----BEGIN ')) throw new ConfigError('SHARDSYNC_CONFIG_INVALID', `${field}: ${path} is not PEM (no "-----BEGIN" line)`);
  return text;
}
