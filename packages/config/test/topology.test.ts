import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assertOutlivesTopic, ConfigError, getDatacenter, loadTopology, parseTopology, resolveCredentials } from '../src/index.js';

const defaultFile = fileURLToPath(new URL('../../../shardsync.topology.yaml', import.meta.url));
const valid = readFileSync(defaultFile, 'utf8');

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseTopology(text, { env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error('expected the topology to be rejected');
}

describe('topology', () => {
  it('the shipped local topology declares dc-a, dc-b and dc-c and a dataset replicated to all three', () => {
    const topology = loadTopology({ path: defaultFile, env: {} });
    expect(topology.datacenters.map((d) => d.name)).toEqual(['dc-a', 'dc-b', 'dc-c']);
    expect(topology.datasets.some((d) => ['dc-a', 'dc-b', 'dc-c'].every((dc) => d.datacenters.includes(dc)))).toBe(true);
    expect(topology.kafka.topics).toEqual({ updates: 'shardsync.updates', deadLetters: 'shardsync.updates.dlq' });
  });

  it('a field of the wrong type is rejected with a message naming the field', () => {
    const problems = problemsOf(valid.replace('partitions: 12', 'partitions: "twelve"'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^kafka\.partitions: .*number/);
  });

  it('a dataset naming an unknown datacenter is rejected, listing the known ones', () => {
    const problems = problemsOf(valid.replace('datacenters: [dc-a, dc-b, dc-c]\n  - name: training-data', 'datacenters: [dc-a, dc-x]\n  - name: training-data'));
    expect(problems).toEqual(['datasets[0].datacenters[1]: unknown datacenter "dc-x"; known datacenters: dc-a, dc-b, dc-c']);
  });

  it('a datacenter without a bucket is rejected with the path of the missing field', () => {
    const problems = problemsOf(valid.replace('      bucket: shardsync-dc-b\n', ''));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^datacenters\[1\]\.s3\.bucket: /);
  });

  it('an unknown key (a typo) is rejected rather than silently ignored', () => {
    const problems = problemsOf(valid.replace('  clientId: shardsync', '  clientID: shardsync'));
    expect(problems.join('\n')).toMatch(/kafka.*clientID/);
  });

  it('two datacenters sharing one endpoint and bucket are rejected', () => {
    const problems = problemsOf(valid.replace('endpoint: http://127.0.0.1:19002', 'endpoint: http://127.0.0.1:19001').replace('bucket: shardsync-dc-b', 'bucket: shardsync-dc-a'));
    expect(problems.join('\n')).toMatch(/datacenters\[1\]\.s3\.bucket: .*share the same endpoint and bucket/);
  });

  it('two datacenters sharing one store are rejected however its endpoint is spelt (trailing slash, upper-case host, default port)', () => {
    const sameBucket = valid.replace('bucket: shardsync-dc-b', 'bucket: shardsync-dc-a');
    for (const spelling of ['http://127.0.0.1:19001/', 'http://LOCALHOST:19001', 'http://localhost:19001/']) {
      const first = spelling.toLowerCase().includes('localhost') ? { SHARDSYNC_DC_DC_A_S3_ENDPOINT: 'http://localhost:19001' } : {};
      const problems = problemsOf(sameBucket, { ...first, SHARDSYNC_DC_DC_B_S3_ENDPOINT: spelling });
      expect(problems.join('\n'), spelling).toMatch(/datacenters\[1\]\.s3\.bucket: .*share the same endpoint and bucket/);
    }
    const defaultPort = valid.replace('endpoint: http://127.0.0.1:19001', 'endpoint: http://store.dc:80').replace('endpoint: http://127.0.0.1:19002', 'endpoint: http://store.dc').replace('bucket: shardsync-dc-b', 'bucket: shardsync-dc-a');
    expect(problemsOf(defaultPort).join('\n')).toMatch(/share the same endpoint and bucket/);
  });

  it('two datacenters whose names give the same override variables (dc-b, dc_b) are rejected: one variable would set both', () => {
    const problems = problemsOf(valid.replace(/name: dc-b\b/, 'name: dc_b').replace(/- dc-b\b/g, '- dc_b').replace('name: dc-a', 'name: dc-b'));
    expect(problems).toContainEqual(expect.stringMatching(/^datacenters\[\d\]\.name: datacenters "dc-b" and "dc_b" would share the overrides SHARDSYNC_DC_DC_B_S3_\*; rename one$/));
  });

  it('environment variables override single fields of the file', () => {
    const topology = parseTopology(valid, {
      env: {
        SHARDSYNC_KAFKA_BROKERS: 'localhost:1,localhost:2',
        SHARDSYNC_KAFKA_TOPIC_UPDATES: 'other.updates',
        SHARDSYNC_REDIS_URL: 'redis://127.0.0.1:6390',
        SHARDSYNC_DC_DC_B_S3_ENDPOINT: 'http://127.0.0.1:29002',
        SHARDSYNC_KAFKA_PARTITIONS: '3',
      },
    });
    expect(topology.kafka.brokers).toEqual(['localhost:1', 'localhost:2']);
    expect(topology.kafka.topics.updates).toBe('other.updates');
    expect(topology.kafka.partitions).toBe(3);
    expect(topology.redis.url).toBe('redis://127.0.0.1:6390');
    expect(getDatacenter(topology, 'dc-b').s3.endpoint).toBe('http://127.0.0.1:29002');
  });

  it('an invalid override names the variable that set it', () => {
    const problems = problemsOf(valid, { SHARDSYNC_KAFKA_PARTITIONS: 'many' });
    expect(problems[0]).toMatch(/^kafka\.partitions: .*\(set by SHARDSYNC_KAFKA_PARTITIONS\)$/);
    // An override that sets a list: the problem is with one element of what it set.
    expect(problemsOf(valid, { SHARDSYNC_KAFKA_BROKERS: 'bad' })[0]).toMatch(/^kafka\.brokers\[0\]: .*\(set by SHARDSYNC_KAFKA_BROKERS\)$/);
  });


  it('a datacenter override that names no datacenter or no field is refused instead of silently ignored', () => {
    const problems = problemsOf(valid, {
      SHARDSYNC_DC_A_S3_ENDPOINT: 'http://127.0.0.1:29001',
      SHARDSYNC_DC_DC_B_S3_ENDPIONT: 'http://127.0.0.1:29002',
      SHARDSYNC_DC_DC_C_S3_ENDPOINT: 'http://127.0.0.1:29003',
    });
    expect(problems).toEqual([
      'SHARDSYNC_DC_A_S3_ENDPOINT names no datacenter of this topology: its datacenters\' overrides begin SHARDSYNC_DC_DC_A_S3_, SHARDSYNC_DC_DC_B_S3_, SHARDSYNC_DC_DC_C_S3_',
      'SHARDSYNC_DC_DC_B_S3_ENDPIONT overrides no field: a datacenter\'s overrides end in _S3_ENDPOINT, _S3_REGION, _S3_BUCKET',
    ]);
  });

  it('a credential variable named like a datacenter override is not mistaken for one', () => {
    const withCredentials = valid.replace(
      /(name: dc-b\n\s+s3:\n(?:.*\n)*?\s+)credentials: \{ type: none \}/,
      '$1credentials: { type: env, accessKeyIdEnv: SHARDSYNC_DC_DC_B_S3_KEY_ID, secretAccessKeyEnv: SHARDSYNC_DC_DC_B_S3_SECRET }',
    );
    expect(withCredentials).not.toBe(valid);
    const topology = parseTopology(withCredentials, { env: { SHARDSYNC_DC_DC_B_S3_KEY_ID: 'id', SHARDSYNC_DC_DC_B_S3_SECRET: 'secret' } });
    expect(getDatacenter(topology, 'dc-b').s3.credentials).toEqual({ type: 'env', accessKeyIdEnv: 'SHARDSYNC_DC_DC_B_S3_KEY_ID', secretAccessKeyEnv: 'SHARDSYNC_DC_DC_B_S3_SECRET' });
  });
  it('a missing topology file is reported with its path and how to point at another', () => {
    expect(() => loadTopology({ path: '/nonexistent/topology.yaml', env: {} })).toThrow(/\/nonexistent\/topology\.yaml.*SHARDSYNC_TOPOLOGY/);
  });

  it('credentials named by environment variables are read at start, and a missing one is named', () => {
    const creds = { type: 'env', accessKeyIdEnv: 'KEY_ID', secretAccessKeyEnv: 'SECRET' } as const;
    expect(resolveCredentials(creds, { KEY_ID: 'id', SECRET: 's' })).toEqual({ accessKeyId: 'id', secretAccessKey: 's' });
    expect(() => resolveCredentials(creds, { KEY_ID: 'id' })).toThrow(/environment variable SECRET is not set/);
  });

  it('an unknown datacenter lookup lists the known ones', () => {
    const topology = parseTopology(valid, { env: {} });
    expect(() => getDatacenter(topology, 'dc-z')).toThrow('datacenter "dc-z" is not in the topology; known datacenters: dc-a, dc-b, dc-c');
  });

  it.each([
    ['a broker port above 65535', { SHARDSYNC_KAFKA_BROKERS: '127.0.0.1:99999' }, 'kafka.brokers[0]: expected a port number 1-65535, got "127.0.0.1:99999" (set by SHARDSYNC_KAFKA_BROKERS)'],
    ['broker port 0', { SHARDSYNC_KAFKA_BROKERS: '127.0.0.1:0' }, 'kafka.brokers[0]: expected a port number 1-65535, got "127.0.0.1:0" (set by SHARDSYNC_KAFKA_BROKERS)'],
  ])('refuses %s, which no client could connect to', (_what, env, problem) => {
    expect(problemsOf(valid, env)).toEqual([problem]);
  });

  it('refuses a topic name Kafka would refuse, naming the variable that set it', () => {
    expect(problemsOf(valid, { SHARDSYNC_KAFKA_TOPIC_UPDATES: 'my updates' })).toEqual([
      'kafka.topics.updates: Kafka topic names are 1-249 letters, digits, ".", "_" and "-" (set by SHARDSYNC_KAFKA_TOPIC_UPDATES)',
    ]);
  });

  it('refuses a dead-letter topic that is the updates topic: consumers would read their dead letters back as updates', () => {
    expect(problemsOf(valid, { SHARDSYNC_KAFKA_TOPIC_DEAD_LETTERS: 'shardsync.updates' })).toEqual([
      'kafka.topics.deadLetters: the dead-letter topic must differ from the updates topic "shardsync.updates" (set by SHARDSYNC_KAFKA_TOPIC_DEAD_LETTERS)',
    ]);
  });

  it('refuses a tombstone grace or body retention that the updates topic would outlive, naming both settings', () => {
    const topology = loadTopology({ path: defaultFile, env: {} });
    expect(topology.kafka.retentionMs).toBe(3 * 24 * 3600 * 1000);
    expect(() => assertOutlivesTopic(topology, 'SHARDSYNC_TOMBSTONE_GRACE_MS', 7 * 24 * 3600 * 1000)).not.toThrow();
    expect(() => assertOutlivesTopic(topology, 'SHARDSYNC_TOMBSTONE_GRACE_MS', 24 * 3600 * 1000)).toThrow(/SHARDSYNC_TOMBSTONE_GRACE_MS \(86400000 ms\) must be longer than the updates topic's retention, kafka\.retentionMs \(259200000 ms\)/);
  });
});
