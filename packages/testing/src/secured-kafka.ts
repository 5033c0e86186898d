import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topologySchema } from '@shardsync/config';
import { compileStackOptions, createClientCertificate, createSelfSignedKeystore, kafkaServer } from '@shardsync/infra';
import { freePort } from './process.js';
import { stackInfo } from './stack-info.js';

/** A broker of its own with SASL and TLS listeners, for the tests of shardsync's secured connections. */
export interface SecuredKafka {
  /** `host:port` of each listener. */
  plaintext: string;
  saslPlaintext: string;
  ssl: string;
  saslSsl: string;
  /** The broker's self-signed certificate (PEM file), the CA its clients must trust. */
  caFile: string;
  /** A client certificate and its key (PEM files), which the SSL listener requires. */
  client: { certFile: string; keyFile: string };
  /** A user every SASL mechanism accepts. */
  user: { name: string; password: string };
  stop(): Promise<void>;
}

/**
 * Starts a second Kafka broker, apart from the stack's (its own state directory and ports), with
 * SASL_PLAINTEXT, SSL (client certificate required) and SASL_SSL listeners besides a plaintext one; PLAIN, SCRAM-SHA-256 and
 * SCRAM-SHA-512 accept {@link SecuredKafka.user}. Takes some seconds: start it once per file.
 */
export async function startSecuredKafka(): Promise<SecuredKafka> {
  const dir = await mkdtemp(join(tmpdir(), 'shardsync-secured-kafka-'));
  const [port, controllerPort, saslPlaintextPort, sslPort, saslSslPort, unusedS3Port] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
  const host = '127.0.0.1';
  const keystore = await createSelfSignedKeystore(join(dir, 'tls'), host);
  const client = await createClientCertificate(join(dir, 'client'), 'shardsync-test');
  const user = { name: 'shardsync-test', password: 'secured-kafka-test-password' };
  // The stack's options want a topology: one naming this broker, and a datacenter that is never started.
  const topology = topologySchema.parse({
    kafka: { brokers: [`${host}:${port}`] },
    redis: { url: stackInfo().redis.url },
    datacenters: [{ name: 'unused', s3: { endpoint: `http://${host}:${unusedS3Port}`, region: 'local', bucket: 'unused' } }],
    datasets: [{ name: 'unused', datacenters: ['unused'] }],
  });
  const options = compileStackOptions({ topology, stateDir: join(dir, 'state'), kafkaControllerPort: controllerPort, env: process.env, log: () => undefined });
  const server = kafkaServer(options, { saslPlaintextPort, sslPort, saslSslPort, keystore: { path: keystore.keystorePath, password: keystore.password }, truststore: client.truststore, users: { [user.name]: user.password } });
  await server.start();
  return {
    plaintext: `${host}:${port}`,
    saslPlaintext: `${host}:${saslPlaintextPort}`,
    ssl: `${host}:${sslPort}`,
    saslSsl: `${host}:${saslSslPort}`,
    caFile: keystore.certificatePemPath,
    client: { certFile: client.certFile, keyFile: client.keyFile },
    user,
    stop: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
