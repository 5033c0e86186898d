import { describe, expect, it } from 'vitest';
import { randomClusterId, renderLog4j2Properties, renderLog4jProperties, renderServerProperties } from '../src/kafka.js';
import { scramFormatArguments } from '../src/kafka-security.js';
import { renderFetchPom } from '../src/maven.js';
import { redactRedisUrl } from '@shardsync/config';
import { parseRedisUrl, redisServerArgs } from '../src/redis.js';
import { renderLogbackXml, renderS3ProxyProperties } from '../src/s3proxy.js';
import { kafkaArtifactSet, majorVersion, s3proxyArtifactSet } from '../src/versions.js';

/** Parses `key=value` lines, skipping comments. */
function properties(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.includes('=')) continue;
    const at = line.indexOf('=');
    map.set(line.slice(0, at), line.slice(at + 1));
  }
  return map;
}

describe('Kafka server.properties', () => {
  const config = { host: '127.0.0.1', port: 19092, controllerPort: 19093, dataDir: '/state/kafka', version: '4.1.1' };

  it('runs one KRaft node as broker and controller on the configured ports', () => {
    const p = properties(renderServerProperties(config));
    expect(p.get('process.roles')).toBe('broker,controller');
    expect(p.get('controller.quorum.voters')).toBe('1@127.0.0.1:19093');
    expect(p.get('listeners')).toBe('PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093');
    expect(p.get('advertised.listeners')).toBe('PLAINTEXT://127.0.0.1:19092');
    expect(p.get('log.dirs')).toBe('/state/kafka');
  });

  it('sizes the internal topics for a single broker and lets groups join without delay', () => {
    const p = properties(renderServerProperties(config));
    expect(p.get('offsets.topic.replication.factor')).toBe('1');
    expect(p.get('transaction.state.log.replication.factor')).toBe('1');
    expect(p.get('transaction.state.log.min.isr')).toBe('1');
    expect(p.get('group.initial.rebalance.delay.ms')).toBe('0');
  });

  it('sets the share-group topic only for Kafka 4, which has it', () => {
    expect(properties(renderServerProperties(config)).get('share.coordinator.state.topic.replication.factor')).toBe('1');
    expect(properties(renderServerProperties({ ...config, version: '3.9.1' })).has('share.coordinator.state.topic.replication.factor')).toBe(false);
  });

  it('logs to stdout, which the stack appends to the log file, with either logging backend', () => {
    expect(renderLog4j2Properties()).toContain('appender.out.type = Console');
    expect(renderLog4jProperties()).toContain('log4j.appender.stdout=org.apache.log4j.ConsoleAppender');
  });

  it('generates cluster ids in Kafka format: 22 URL-safe base64 characters, never starting with "-"', () => {
    for (let i = 0; i < 200; i++) {
      const id = randomClusterId();
      expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    }
  });
});

describe('Maven fetch', () => {
  it('adds the logging binding each Kafka line ships with', () => {
    const ids = (v: string) => kafkaArtifactSet(v).dependencies.map((d) => d.artifactId);
    expect(ids('4.1.1')).toEqual(['kafka_2.13', 'log4j-slf4j-impl', 'log4j-core']);
    expect(ids('3.9.1')).toEqual(['kafka_2.13', 'slf4j-reload4j']);
  });

  it('renders a pom that pins the dependency plugin and forces managed versions', () => {
    const pom = renderFetchPom(s3proxyArtifactSet('4.1.0'));
    expect(pom).toContain('<groupId>org.gaul</groupId><artifactId>s3proxy</artifactId><version>4.1.0</version>');
    expect(pom).toMatch(/<dependencyManagement>[\s\S]*<artifactId>jackson-annotations<\/artifactId>[\s\S]*<\/dependencyManagement>/);
    expect(pom).toContain('<artifactId>maven-dependency-plugin</artifactId>');
    expect(renderFetchPom(kafkaArtifactSet('4.1.1'))).not.toContain('dependencyManagement');
  });

  it('reads the major version of dotted versions and rejects anything else', () => {
    expect(majorVersion('4.1.1')).toBe(4);
    expect(() => majorVersion('latest')).toThrow(/dotted version/);
  });
});

describe('s3proxy configuration', () => {
  it('serves one directory per datacenter at the topology endpoint without authorization', () => {
    const p = properties(renderS3ProxyProperties({ endpoint: 'http://127.0.0.1:19002', dataDir: '/state/s3/dc-b', provider: 'filesystem-nio2' }));
    expect(p.get('s3proxy.endpoint')).toBe('http://127.0.0.1:19002');
    expect(p.get('s3proxy.authorization')).toBe('none');
    expect(p.get('jclouds.provider')).toBe('filesystem-nio2');
    expect(p.get('jclouds.filesystem.basedir')).toBe('/state/s3/dc-b');
  });

  it('configures logback, which otherwise logs every request at DEBUG', () => {
    expect(renderLogbackXml()).toContain('<root level="INFO">');
  });
});

describe('Redis', () => {
  it('starts a local server with durable data and the eviction policy job queues need', () => {
    const args = redisServerArgs(parseRedisUrl('redis://127.0.0.1:6390'), '/state/redis');
    expect(args.join(' ')).toContain('--port 6390');
    expect(args.join(' ')).toContain('--dir /state/redis');
    expect(args.join(' ')).toContain('--appendonly yes');
    expect(args.join(' ')).toContain('--maxmemory-policy noeviction');
    expect(args).not.toContain('--requirepass');
  });

  it('passes the URL password on and keeps it out of messages', () => {
    const target = parseRedisUrl('redis://:s3cret@localhost:6380/2');
    expect(target).toMatchObject({ host: 'localhost', port: 6380, password: 's3cret' });
    expect(redisServerArgs(target, '/d')).toContain('s3cret');
    expect(redactRedisUrl('redis://:s3cret@localhost:6380/2')).not.toContain('s3cret');
  });
});

describe('Kafka server.properties with secured listeners', () => {
  const secured = {
    saslPlaintextPort: 29194,
    sslPort: 29195,
    saslSslPort: 29196,
    keystore: { path: '/state/tls/broker.p12', password: 'storepass' },
    users: { svc: 'svc-password' },
  };
  const config = { host: '127.0.0.1', port: 19092, controllerPort: 19093, dataDir: '/state/kafka', version: '4.1.1', secured };

  it('opens SASL_PLAINTEXT, SSL and SASL_SSL listeners beside the plaintext one, each advertised', () => {
    const p = properties(renderServerProperties(config));
    const secure = 'SASL_PLAINTEXT://127.0.0.1:29194,SSL://127.0.0.1:29195,SASL_SSL://127.0.0.1:29196';
    expect(p.get('listeners')).toBe(`PLAINTEXT://127.0.0.1:19092,${secure},CONTROLLER://127.0.0.1:19093`);
    expect(p.get('advertised.listeners')).toBe(`PLAINTEXT://127.0.0.1:19092,${secure}`);
    expect(p.get('listener.security.protocol.map')).toBe('PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL');
    expect(p.get('sasl.enabled.mechanisms')).toBe('PLAIN,SCRAM-SHA-256,SCRAM-SHA-512');
    expect(p.get('ssl.keystore.location')).toBe('/state/tls/broker.p12');
    expect(p.get('listener.name.sasl_ssl.plain.sasl.jaas.config')).toBe('org.apache.kafka.common.security.plain.PlainLoginModule required user_svc="svc-password";');
  });

  it('creates every user SCRAM credentials when the storage is formatted', () => {
    expect(scramFormatArguments(secured)).toEqual(['--add-scram', 'SCRAM-SHA-256=[name=svc,password=svc-password]', '--add-scram', 'SCRAM-SHA-512=[name=svc,password=svc-password]']);
  });

  it('refuses a password that the JAAS line would have to quote', () => {
    expect(() => renderServerProperties({ ...config, secured: { ...secured, users: { svc: 'pass"word' } } })).toThrow('the password of SASL user svc "pass"word" may hold only letters, digits, ".", "_" and "-"');
  });
});
