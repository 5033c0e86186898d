import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadTopology, parseTopology, type Topology } from '@shardsync/config';
import { DEFAULT_KAFKA_VERSION, DEFAULT_S3PROXY_VERSION } from '@shardsync/infra';
import { renderServerProperties } from '../infra/src/kafka.js';
import { consumerEnvSchema } from '../services/consumer/src/env.js';
import { producerEnvSchema } from '../services/producer/src/env.js';
import { reconcilerEnvSchema } from '../services/reconciler/src/env.js';

// No Docker engine runs where shardsync is developed: docker-compose.yml is checked here against
// the default topology and the services' own env schemas instead of by starting it.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const COMPOSE_TOPOLOGY_FILE = join(ROOT, 'infra/compose/topology.compose.yaml');

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string | number | boolean | null>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test?: string[] | string; interval?: string };
  depends_on?: Record<string, { condition: string }>;
  restart?: string;
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** What Compose makes of `${NAME:-default}` when NAME is unset: the documented local default. */
function interpolate(value: string): string {
  return value.replace(/\$\$|\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g, (match, _name: string | undefined, fallback: string | undefined) =>
    match === '$$' ? '$' : (fallback ?? ''),
  );
}

// Merge keys (`<<: *anchor`) are YAML 1.1, which Compose reads; the yaml package needs them enabled.
const compose = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as ComposeFile;
const services = compose.services;
// `env: {}` keeps this process's SHARDSYNC_* overrides (e.g. a test stack's ports) out of the comparison.
const defaultTopology: Topology = loadTopology({ path: join(ROOT, 'shardsync.topology.yaml'), env: {} });

function service(name: string): ComposeService {
  const s = services[name];
  if (s === undefined) throw new Error(`docker-compose.yml has no service "${name}"; it has ${Object.keys(services).join(', ')}`);
  return s;
}

function environment(s: ComposeService): Record<string, string> {
  return Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v ?? ''))]));
}

/** `[ip:]host:container` mappings as numbers, defaults of `${...}` applied. */
function portMappings(s: ComposeService): Array<{ host: number; container: number }> {
  return (s.ports ?? []).map((p) => {
    const parts = interpolate(p).replace(/\/tcp$/, '').split(':');
    return { host: Number(parts.at(-2)), container: Number(parts.at(-1)) };
  });
}

function portOf(url: string): number {
  const u = new URL(url);
  return Number(u.port);
}

function servicesRunning(entry: string): Array<[string, ComposeService]> {
  return Object.entries(services).filter(([, s]) => s.command?.join(' ').includes(entry) === true);
}

const composeTopologyText = readFileSync(COMPOSE_TOPOLOGY_FILE, 'utf8');

describe('infra/compose/topology.compose.yaml', () => {
  it('is a valid topology with the default topology\'s datacenters, buckets, datasets and topics', () => {
    const t = parseTopology(composeTopologyText, { path: COMPOSE_TOPOLOGY_FILE, env: {} });
    // Everything but the addresses: s3proxy's listing and artifact settings and the topic retention included.
    const shape = (x: Topology) => ({
      datacenters: x.datacenters.map(({ s3: { endpoint: _endpoint, ...s3 }, ...dc }) => ({ ...dc, s3 })),
      datasets: x.datasets,
      kafka: { ...x.kafka, brokers: undefined },
    });
    expect(shape(t)).toEqual(shape(defaultTopology));
  });

  it('addresses the compose services by their in-network names', () => {
    const t = parseTopology(composeTopologyText, { path: COMPOSE_TOPOLOGY_FILE, env: {} });
    expect(t.kafka.brokers).toEqual(['kafka:9092']);
    expect(t.redis.url).toBe('redis://redis:6379');
    for (const dc of t.datacenters) {
      const url = new URL(dc.s3.endpoint);
      expect(url.hostname, dc.name).toBe(`s3-${dc.name}`);
      expect(portMappings(service(url.hostname)).map((m) => m.container), dc.name).toContain(Number(url.port || 80));
    }
  });
});

describe('docker-compose.yml', () => {
  it('runs one s3proxy per datacenter on the local topology\'s host port, each with its own volume', () => {
    const s3Services = Object.entries(services).filter(([, s]) => s.image?.startsWith('andrewgaul/s3proxy:') === true);
    expect(s3Services.map(([name]) => name).sort()).toEqual(defaultTopology.datacenters.map((d) => `s3-${d.name}`).sort());
    const volumes = new Set<string>();
    for (const dc of defaultTopology.datacenters) {
      const s = service(`s3-${dc.name}`);
      expect(s.image).toBe(`andrewgaul/s3proxy:${DEFAULT_S3PROXY_VERSION}`);
      expect(portMappings(s), dc.name).toEqual([{ host: portOf(dc.s3.endpoint), container: 80 }]);
      expect(environment(s)).toMatchObject({ S3PROXY_AUTHORIZATION: 'none', JCLOUDS_PROVIDER: 'filesystem-nio2', JCLOUDS_FILESYSTEM_BASEDIR: '/data' });
      const volume = s.volumes?.[0]?.split(':')[0] ?? '';
      expect(Object.keys(compose.volumes ?? {})).toContain(volume);
      volumes.add(volume);
    }
    expect(volumes.size).toBe(defaultTopology.datacenters.length);
  });

  it('runs the pinned Kafka in KRaft mode, reachable from the host at the local topology\'s broker address', () => {
    const kafka = service('kafka');
    expect(kafka.image).toBe(`apache/kafka:${DEFAULT_KAFKA_VERSION}`);
    const env = environment(kafka);
    expect(env['KAFKA_PROCESS_ROLES']?.split(',').sort()).toEqual(['broker', 'controller']);
    expect(env['KAFKA_CONTROLLER_QUORUM_VOTERS']).toBe('1@kafka:9093');
    const hostBroker = defaultTopology.kafka.brokers[0] ?? '';
    const hostPort = Number(hostBroker.split(':')[1]);
    expect(env['KAFKA_ADVERTISED_LISTENERS']?.split(',')).toEqual(expect.arrayContaining(['PLAINTEXT://kafka:9092', `HOST://${hostBroker}`]));
    expect(portMappings(kafka)).toEqual([{ host: hostPort, container: hostPort }]);
  });

  it('gives Kafka every broker setting of the local stack that does not name an address', () => {
    // The apache/kafka image turns KAFKA_FOO_BAR into foo.bar; CLUSTER_ID and the listeners differ on purpose.
    const addressed = new Set(['listeners', 'advertised.listeners', 'controller.quorum.voters', 'listener.security.protocol.map', 'log.dirs']);
    const local = renderServerProperties({ host: '127.0.0.1', port: 19092, controllerPort: 19093, dataDir: '/data', version: DEFAULT_KAFKA_VERSION })
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => line.split('=') as [string, string])
      .filter(([key]) => !addressed.has(key));
    const env = environment(service('kafka'));
    const asComposeEnv = (key: string) => `KAFKA_${key.toUpperCase().replace(/\./g, '_')}`;
    // Lists compare as sets: `broker,controller` and `controller,broker` are one setting.
    const normalized = (value: string | undefined) => value?.split(',').sort().join(',');
    const expected = Object.fromEntries(local.map(([key, value]) => [asComposeEnv(key), normalized(value)]));
    const actual = Object.fromEntries(Object.keys(expected).map((name) => [name, normalized(env[name])]));
    expect(actual).toEqual(expected);
  });

  it('runs Redis 7 with noeviction on the local topology\'s Redis port', () => {
    const redis = service('redis');
    expect(redis.image).toMatch(/^redis:7(\.|$)/);
    expect(redis.command?.join(' ')).toContain('--maxmemory-policy noeviction');
    expect(portMappings(redis)).toEqual([{ host: portOf(defaultTopology.redis.url), container: 6379 }]);
  });

  it('runs one consumer per datacenter, each applying to its own, with an environment its schema accepts', () => {
    const consumers = servicesRunning('services/consumer/dist/main.js');
    const datacenters = consumers.map(([name, s]) => {
      const env = consumerEnvSchema.parse(environment(s));
      expect(env.SHARDSYNC_CONSUMER_HOST, name).toBe('0.0.0.0');
      expect(portMappings(s).map((m) => m.container), name).toEqual([env.SHARDSYNC_CONSUMER_PORT]);
      return env.SHARDSYNC_DATACENTER;
    });
    expect(datacenters.sort()).toEqual(defaultTopology.datacenters.map((d) => d.name).sort());
    const hostPorts = consumers.flatMap(([, s]) => portMappings(s).map((m) => m.host));
    expect(new Set(hostPorts).size).toBe(consumers.length);
  });

  it('runs the producer and the reconciler on their ports with environments their schemas accept', () => {
    const [producer, ...moreProducers] = servicesRunning('services/producer/dist/main.js');
    expect(moreProducers).toEqual([]);
    const producerEnv = producerEnvSchema.parse(environment(producer![1]));
    expect(defaultTopology.datacenters.map((d) => d.name)).toContain(producerEnv.SHARDSYNC_DATACENTER);
    expect(producerEnv).toMatchObject({ SHARDSYNC_PRODUCER_HOST: '0.0.0.0', SHARDSYNC_PRODUCER_PORT: 18080 });
    // Tokens come from the caller's environment; the fallback is a documented local default.
    expect(String(producer![1].environment?.['SHARDSYNC_PRODUCER_TOKENS'])).toMatch(/^\$\{SHARDSYNC_PRODUCER_TOKENS:-.+\}$/);
    expect(portMappings(producer![1])).toEqual([{ host: 18080, container: 18080 }]);

    const reconciler = service('reconciler');
    expect(reconciler.command?.join(' ')).toContain('services/reconciler/dist/main.js');
    const reconcilerEnv = reconcilerEnvSchema.parse(environment(reconciler));
    expect(reconcilerEnv).toMatchObject({ SHARDSYNC_RECONCILER_HOST: '0.0.0.0', SHARDSYNC_RECONCILER_PORT: 18100 });
    expect(portMappings(reconciler)).toEqual([{ host: 18100, container: 18100 }]);
  });

  it('sets only variables the services read, and points them at the compose topology', () => {
    const common = ['SHARDSYNC_TOPOLOGY', 'SHARDSYNC_LOG_LEVEL'];
    const schemas: Array<[string, readonly string[]]> = [
      ['services/producer/dist/main.js', Object.keys(producerEnvSchema.shape)],
      ['services/consumer/dist/main.js', Object.keys(consumerEnvSchema.shape)],
      ['services/reconciler/dist/main.js', Object.keys(reconcilerEnvSchema.shape)],
      ['packages/cli/bin/shardsync.js', []],
    ];
    for (const [entry, known] of schemas) {
      for (const [name, s] of servicesRunning(entry)) {
        const env = environment(s);
        const unknown = Object.keys(env).filter((k) => !known.includes(k) && !common.includes(k));
        expect(unknown, `${name} sets variables its service does not read`).toEqual([]);
        // The image is the repository under /app (Dockerfile), so the path maps back to this file.
        expect(env['SHARDSYNC_TOPOLOGY'], name).toBe('/app/infra/compose/topology.compose.yaml');
      }
    }
  });

  it('starts every shardsync process from a file the build produces', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.command?.[0] !== 'node') continue;
      const entry = s.command[1] ?? '';
      expect(s.build, `${name} is built from this repository`).toBeDefined();
      // dist/main.js is compiled from src/main.ts; the CLI's bin is its own file.
      const source = entry.replace(/\/dist\/main\.js$/, '/src/main.ts');
      if (!entry.startsWith('packages/cli/')) expect(existsSync(join(ROOT, source)), `${name}: ${source}`).toBe(true);
    }
    expect(service('init').command).toEqual(['node', 'packages/cli/bin/shardsync.js', 'init']);
  });

  it('gives every long-running service a health check, and makes dependants wait for it', () => {
    for (const [name, s] of Object.entries(services)) {
      if (name === 'init') {
        expect(s.restart, 'init is a one-shot').toBe('no');
        expect(s.healthcheck).toBeUndefined();
        continue;
      }
      const test = s.healthcheck?.test;
      expect(Array.isArray(test) && test.length > 1, `${name} has a health check`).toBe(true);
      for (const [dependency, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(services[dependency], `${name} depends on an existing service`).toBeDefined();
        const expected = dependency === 'init' ? 'service_completed_successfully' : 'service_healthy';
        expect(condition, `${name} -> ${dependency}`).toBe(expected);
      }
    }
    for (const [name] of [...servicesRunning('/dist/main.js')]) {
      expect(Object.keys(service(name).depends_on ?? {}).sort(), name).toEqual(['init', 'kafka', 'redis', ...defaultTopology.datacenters.map((d) => `s3-${d.name}`)].sort());
    }
    // Our processes are probed on /healthz at the port they listen on.
    for (const [name, s] of servicesRunning('/dist/main.js')) {
      const port = portMappings(s)[0]?.container;
      expect(JSON.stringify(s.healthcheck?.test), name).toContain(`http://127.0.0.1:${port}/healthz`);
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const instructions = dockerfile
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  it('makes the copied tree readable by the non-root user whatever the modes of the checkout', () => {
    // COPY keeps the build context's modes: a checkout made with umask 077 has 0600 files that
    // the node user cannot read (package.json, the compose topology), so the services die at start.
    const copy = instructions.findIndex((l) => l.startsWith('COPY '));
    const user = instructions.findIndex((l) => l.startsWith('USER '));
    const between = instructions.slice(copy + 1, user).filter((l) => l.startsWith('RUN ')).join(' ');
    expect(between).toMatch(/chmod -R (a\+rX|go\+rX|a\+r,a\+X) (\.|\/app)( |$)/);
  });

  it('builds on node:20-bookworm-slim with npm ci and npm run build, and runs as a non-root user', () => {
    expect(instructions.filter((l) => l.startsWith('FROM '))).toEqual(['FROM node:20-bookworm-slim']);
    const run = instructions.filter((l) => l.startsWith('RUN ')).join(' ');
    expect(run).toContain('npm ci');
    expect(run).toContain('npm run build');
    const user = instructions.filter((l) => l.startsWith('USER ')).at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^USER (root|0)(:|$)/);
  });

  it('gets a build context without host dependencies, build output or stack state', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', '**/dist', '.git']));
    // What the image needs at run time must not be ignored.
    expect(ignored.some((l) => l === 'infra' || l.startsWith('infra/') || l === 'package-lock.json')).toBe(false);
  });

  it('leaves out of the build context everything git leaves out of the repository', () => {
    const lines = (file: string) =>
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('#'));
    const dockerIgnored = new Set(lines('.dockerignore'));
    // `name/` in .gitignore matches at any depth; .dockerignore spells that `**/name`, or `name` for the root only.
    const missing = lines('.gitignore')
      .map((l) => l.replace(/^\//, '').replace(/\/$/, ''))
      .filter((l) => !dockerIgnored.has(l) && !dockerIgnored.has(`**/${l}`));
    expect(missing).toEqual([]);
  });
});

describe('npm ci (the image build and every checkout)', () => {
  // The Dockerfile's `npm ci` runs the root postinstall; outside CI, patch-package reports a patch
  // that no longer applies and exits 0 unless told otherwise, so the image would ship kafkajs unpatched.
  it('fails when a patch of patches/ no longer applies, outside CI too', () => {
    const postinstall = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['postinstall'];
    expect(postinstall).toMatch(/^patch-package\b/);
    const app = mkdtempSync(join(tmpdir(), 'shardsync-postinstall-'));
    try {
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
      mkdirSync(join(app, 'node_modules', 'dep'), { recursive: true });
      writeFileSync(join(app, 'node_modules', 'dep', 'package.json'), JSON.stringify({ name: 'dep', version: '1.0.0' }));
      writeFileSync(join(app, 'node_modules', 'dep', 'index.js'), 'module.exports = 1;\n');
      mkdirSync(join(app, 'patches'));
      // Made against other contents than the installed file's: it cannot apply.
      writeFileSync(
        join(app, 'patches', 'dep+1.0.0.patch'),
        ['diff --git a/node_modules/dep/index.js b/node_modules/dep/index.js', '--- a/node_modules/dep/index.js', '+++ b/node_modules/dep/index.js', '@@ -1 +1 @@', '-module.exports = 2;', '+module.exports = 3;', ''].join('\n'),
      );
      // No CI variables: a docker build and a laptop have none.
      const env = { PATH: [join(ROOT, 'node_modules', '.bin'), process.env['PATH'] ?? ''].join(delimiter), HOME: app };
      const result = spawnSync('sh', ['-c', postinstall ?? ''], { cwd: app, env, encoding: 'utf8' });
      expect(result.stdout + result.stderr).toContain('dep');
      expect(result.status, 'npm ci must fail instead of installing dep unpatched').not.toBe(0);
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });
});

// Debian's docker-compose package validates the file against Compose's own schema without an
// engine. Where it is not installed there is nothing to run, so only this check is skipped.
const hasDockerCompose = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).error === undefined;

describe('docker-compose config', () => {
  it.skipIf(!hasDockerCompose)('accepts docker-compose.yml', () => {
    const result = spawnSync('docker-compose', ['-f', COMPOSE_FILE, 'config', '-q'], { cwd: ROOT, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
