import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InfraError } from './errors.js';
import { run } from './tools.js';

/**
 * Listeners a broker can open besides its plaintext one, so that shardsync's TLS and SASL
 * settings are exercised against a real broker: SASL (PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512) over
 * plaintext and over TLS, and TLS alone. The certificate is one self-signed key pair
 * ({@link createSelfSignedKeystore}).
 */
export interface SecuredListeners {
  saslPlaintextPort: number;
  sslPort: number;
  saslSslPort: number;
  /** PKCS12 key store holding the broker's key and certificate. */
  keystore: { path: string; password: string };
  /** PKCS12 trust store of client certificates: with it, the SSL listener requires one (mutual TLS). */
  truststore?: { path: string; password: string } | undefined;
  /** User name -> password, accepted by every SASL mechanism. */
  users: Readonly<Record<string, string>>;
}

const MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
const SASL_LISTENERS = ['SASL_PLAINTEXT', 'SASL_SSL'] as const;

/** JAAS and Kafka property values are quoted Java strings: refuse what would need escaping. */
function assertPlain(value: string, what: string): void {
  if (!/^[A-Za-z0-9._-]+$/.test(value)) throw new InfraError('SHARDSYNC_INFRA_CONFIG', `${what} "${value}" may hold only letters, digits, ".", "_" and "-"`);
}

/** The listener entries and settings {@link SecuredListeners} add to `server.properties`. */
export function securedListenerProperties(host: string, s: SecuredListeners): { listeners: string[]; protocols: string[]; settings: string[] } {
  for (const [user, password] of Object.entries(s.users)) {
    assertPlain(user, 'a SASL user name');
    assertPlain(password, `the password of SASL user ${user}`);
  }
  assertPlain(s.keystore.password, 'the key store password');
  if (s.truststore !== undefined) assertPlain(s.truststore.password, 'the trust store password');
  const plainUsers = Object.entries(s.users)
    .map(([user, password]) => `user_${user}="${password}"`)
    .join(' ');
  const settings = [
    `sasl.enabled.mechanisms=${MECHANISMS.join(',')}`,
    `ssl.keystore.type=PKCS12`,
    `ssl.keystore.location=${s.keystore.path}`,
    `ssl.keystore.password=${s.keystore.password}`,
    `ssl.key.password=${s.keystore.password}`,
  ];
  if (s.truststore !== undefined) {
    settings.push(`ssl.truststore.type=PKCS12`, `ssl.truststore.location=${s.truststore.path}`, `ssl.truststore.password=${s.truststore.password}`, 'listener.name.ssl.ssl.client.auth=required');
  }
  for (const listener of SASL_LISTENERS) {
    const name = listener.toLowerCase();
    settings.push(`listener.name.${name}.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`);
    // SCRAM users live in the cluster metadata, added when the storage is formatted (scramFormatArguments).
    for (const scram of ['scram-sha-256', 'scram-sha-512']) {
      settings.push(`listener.name.${name}.${scram}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`);
    }
  }
  return {
    listeners: [`SASL_PLAINTEXT://${host}:${s.saslPlaintextPort}`, `SSL://${host}:${s.sslPort}`, `SASL_SSL://${host}:${s.saslSslPort}`],
    protocols: ['SASL_PLAINTEXT:SASL_PLAINTEXT', 'SSL:SSL', 'SASL_SSL:SASL_SSL'],
    settings,
  };
}

/** `kafka-storage format` arguments that create the SCRAM credentials of every user (KRaft keeps them in its metadata log). */
export function scramFormatArguments(s: SecuredListeners): string[] {
  return Object.entries(s.users).flatMap(([user, password]) =>
    ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((mechanism) => ['--add-scram', `${mechanism}=[name=${user},password=${password}]`]),
  );
}

/**
 * A self-signed key pair for a broker at `host` (an IP address or a name), made with the JDK's
 * keytool: the PKCS12 key store the broker reads, and the certificate as PEM, which clients
 * trust as their CA. Valid for two days: for tests and local stacks, not for production.
 */
export async function createSelfSignedKeystore(dir: string, host: string): Promise<{ keystorePath: string; password: string; certificatePemPath: string }> {
  await mkdir(dir, { recursive: true });
  const keystorePath = join(dir, 'broker.p12');
  const certificatePemPath = join(dir, 'broker-ca.pem');
  await rm(keystorePath, { force: true });
  const password = randomBytes(12).toString('hex');
  const san = /^[\d.]+$/.test(host) ? `IP:${host}` : `DNS:${host}`;
  const steps: Array<readonly string[]> = [
    ['-genkeypair', '-alias', 'broker', '-keyalg', 'RSA', '-keysize', '2048', '-validity', '2', '-dname', `CN=${host}`, '-ext', `SAN=${san}`, '-keystore', keystorePath, '-storetype', 'PKCS12', '-storepass', password, '-keypass', password],
    ['-exportcert', '-rfc', '-alias', 'broker', '-keystore', keystorePath, '-storepass', password, '-file', certificatePemPath],
  ];
  for (const args of steps) await runTool('keytool', args, dir);
  return { keystorePath, password, certificatePemPath };
}

/**
 * A self-signed client certificate and its unencrypted key as PEM (what `kafka.tls.certFile` and
 * `keyFile` name), made with openssl, and a PKCS12 trust store holding the certificate, for a
 * broker listener that requires client certificates. For tests and local stacks only.
 */
export async function createClientCertificate(dir: string, name: string): Promise<{ certFile: string; keyFile: string; truststore: { path: string; password: string } }> {
  assertPlain(name, 'a client certificate name');
  await mkdir(dir, { recursive: true });
  const certFile = join(dir, `${name}-cert.pem`);
  const keyFile = join(dir, `${name}-key.pem`);
  const truststore = { path: join(dir, 'truststore.p12'), password: randomBytes(12).toString('hex') };
  await rm(truststore.path, { force: true });
  await runTool('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-subj', `/CN=${name}`, '-days', '2'], dir);
  await runTool('keytool', ['-importcert', '-noprompt', '-alias', name, '-file', certFile, '-keystore', truststore.path, '-storetype', 'PKCS12', '-storepass', truststore.password], dir);
  return { certFile, keyFile, truststore };
}

async function runTool(command: string, args: readonly string[], cwd: string): Promise<void> {
  const result = await run(command, args, { cwd, timeoutMs: 60_000 });
  if (result.code !== 0) {
    throw new InfraError('SHARDSYNC_INFRA_START_FAILED', `${command} ${args[0] ?? ''} failed (exit ${result.code}): ${`${result.stdout}\n${result.stderr}`.trim().slice(-500)}`);
  }
}
