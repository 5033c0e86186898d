import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTopology, type Topology } from '@shardsync/config';
import { InfraError } from './errors.js';
import { DEFAULT_KAFKA_VERSION, DEFAULT_S3PROXY_VERSION } from './versions.js';

/** The repository root: this file lives in `infra/src/` (or `infra/dist/` once built). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export type S3ProxyProvider = 'filesystem' | 'filesystem-nio2';

/** What a caller may set; every field is optional and documented with its default. */
export interface StackOptions {
  /** The topology to run. Default: loaded from `topologyPath`. */
  topology?: Topology;
  /** Default: `$SHARDSYNC_TOPOLOGY`, else `<repo>/shardsync.topology.yaml`. */
  topologyPath?: string;
  /** Environment read for the SHARDSYNC_* settings below. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Logs, pid files and server data. Default: `$SHARDSYNC_STATE_DIR`, else `<repo>/.shardsync-state`. */
  stateDir?: string;
  /** Fetched jars, shared by checkouts. Default: `$SHARDSYNC_CACHE_DIR`, else `~/.cache/shardsync`. */
  cacheDir?: string;
  /** Default: `$SHARDSYNC_KAFKA_VERSION`, else the pinned {@link DEFAULT_KAFKA_VERSION}. */
  kafkaVersion?: string;
  /** Default: `$SHARDSYNC_KAFKA_CONTROLLER_PORT`, else the broker port + 1. */
  kafkaControllerPort?: number;
  /** Default: `$SHARDSYNC_S3PROXY_VERSION`, else the pinned {@link DEFAULT_S3PROXY_VERSION}. */
  s3proxyVersion?: string;
  /** jclouds storage provider. Default: `$SHARDSYNC_S3PROXY_PROVIDER`, else `filesystem-nio2`. */
  s3proxyProvider?: S3ProxyProvider;
  /** How long one server may take to answer after its start. Default: `$SHARDSYNC_STACK_READY_TIMEOUT_MS`, else 120 000. */
  readyTimeoutMs?: number;
  /** Between SIGTERM and SIGKILL when stopping. Default: 30 000. */
  stopGraceMs?: number;
  /** Progress lines. Default: written to stderr. */
  log?: (line: string) => void;
}

/** The validated options with every default filled, produced only by {@link compileStackOptions}. */
export interface CompiledStackOptions {
  topology: Topology;
  /** Where the topology came from (`(given)` when passed as an object). */
  topologyPath: string;
  env: NodeJS.ProcessEnv;
  stateDir: string;
  cacheDir: string;
  kafka: { version: string; host: string; port: number; controllerPort: number };
  s3proxy: { version: string; provider: S3ProxyProvider };
  readyTimeoutMs: number;
  stopGraceMs: number;
  log: (line: string) => void;
}

const RESERVED_SERVER_NAMES = new Set(['kafka', 'redis']);

function parsePort(value: string | number, what: string): number {
  const port = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new InfraError('SHARDSYNC_INFRA_CONFIG', `${what} must be a port number (1-65535), got "${value}"`);
  return port;
}

function parsePositiveInt(value: string | number, what: string): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InfraError('SHARDSYNC_INFRA_CONFIG', `${what} must be a positive whole number of milliseconds, got "${value}"`);
  return n;
}

/** Splits `host:port` (the topology's broker form) into its parts. */
export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const at = value.lastIndexOf(':');
  if (at <= 0) throw new InfraError('SHARDSYNC_INFRA_CONFIG', `${what} must be "host:port", got "${value}"`);
  return { host: value.slice(0, at), port: parsePort(value.slice(at + 1), what) };
}

/** Host and port of an http(s) endpoint, with the scheme's default port when none is written. */
export function endpointHostPort(endpoint: string): { host: string; port: number } {
  const url = new URL(endpoint);
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port };
}

const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);

/** An explicit directory option; '' is refused: resolved, it is the working directory, which `wipe` would delete. */
function directoryOption(value: string | undefined, what: string): string | undefined {
  if (value === '') throw new InfraError('SHARDSYNC_INFRA_CONFIG', `${what} must not be empty`);
  return value;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Refuses two servers of the stack on one port. Both would pass the free-port check, start side by
 * side, and the one that lost the port would take the other's answers for its own: two
 * datacenters on one endpoint (valid for a real S3 server with several buckets) were both reported
 * started, the second one's bucket created in the first one's data directory.
 */
function assertOnePortEach(topology: Topology, brokerPort: number, controllerPort: number): void {
  const owners = new Map<number, string>();
  const claim = (port: number, server: string) => {
    const other = owners.get(port);
    if (other !== undefined) {
      throw new InfraError('SHARDSYNC_INFRA_CONFIG', `${other} and ${server} both need port ${port}; the local stack runs one server per port, so give each its own (in the topology or its SHARDSYNC_* overrides)`);
    }
    owners.set(port, server);
  };
  claim(brokerPort, 'kafka');
  claim(controllerPort, 'kafka (controller)');
  // A Redis elsewhere is only used, never started here: its port takes nothing from this machine.
  const redis = new URL(topology.redis.url);
  if (LOOPBACK_HOSTS.has(redis.hostname)) claim(redis.port === '' ? 6379 : Number(redis.port), 'redis');
  for (const dc of topology.datacenters) claim(endpointHostPort(dc.s3.endpoint).port, dc.name);
}

/** Validates options, reads SHARDSYNC_* variables and the topology, and fills every default. */
export function compileStackOptions(options: StackOptions = {}): CompiledStackOptions {
  const env = options.env ?? process.env;
  const topologyPath = options.topology !== undefined ? '(given)' : resolve(options.topologyPath ?? nonEmpty(env['SHARDSYNC_TOPOLOGY']) ?? join(REPO_ROOT, 'shardsync.topology.yaml'));
  const topology = options.topology ?? loadTopology({ path: topologyPath, env });

  for (const dc of topology.datacenters) {
    if (RESERVED_SERVER_NAMES.has(dc.name)) {
      throw new InfraError('SHARDSYNC_INFRA_CONFIG', `datacenter name "${dc.name}" collides with the ${dc.name} server of the local stack; rename the datacenter`);
    }
  }
  const firstBroker = topology.kafka.brokers[0];
  if (firstBroker === undefined) throw new InfraError('SHARDSYNC_INFRA_CONFIG', 'the topology lists no Kafka broker');
  const broker = parseHostPort(firstBroker, 'kafka.brokers[0]');
  const controllerRaw = options.kafkaControllerPort ?? nonEmpty(env['SHARDSYNC_KAFKA_CONTROLLER_PORT']) ?? broker.port + 1;
  const controllerPort = parsePort(controllerRaw, 'SHARDSYNC_KAFKA_CONTROLLER_PORT');
  if (controllerPort === broker.port) throw new InfraError('SHARDSYNC_INFRA_CONFIG', `the Kafka controller port must differ from the broker port ${broker.port}`);

  assertOnePortEach(topology, broker.port, controllerPort);

  const provider = options.s3proxyProvider ?? nonEmpty(env['SHARDSYNC_S3PROXY_PROVIDER']) ?? 'filesystem-nio2';
  if (provider !== 'filesystem' && provider !== 'filesystem-nio2') {
    throw new InfraError('SHARDSYNC_INFRA_CONFIG', `SHARDSYNC_S3PROXY_PROVIDER must be "filesystem" or "filesystem-nio2", got "${provider}"`);
  }

  const log =
    options.log ??
    ((line: string) => {
      process.stderr.write(`[stack] ${line}\n`);
    });

  return {
    topology,
    topologyPath,
    env,
    stateDir: resolve(directoryOption(options.stateDir, 'stateDir') ?? nonEmpty(env['SHARDSYNC_STATE_DIR']) ?? join(REPO_ROOT, '.shardsync-state')),
    cacheDir: resolve(directoryOption(options.cacheDir, 'cacheDir') ?? nonEmpty(env['SHARDSYNC_CACHE_DIR']) ?? join(homedir(), '.cache', 'shardsync')),
    kafka: {
      version: options.kafkaVersion ?? nonEmpty(env['SHARDSYNC_KAFKA_VERSION']) ?? DEFAULT_KAFKA_VERSION,
      host: broker.host,
      port: broker.port,
      controllerPort,
    },
    s3proxy: { version: options.s3proxyVersion ?? nonEmpty(env['SHARDSYNC_S3PROXY_VERSION']) ?? DEFAULT_S3PROXY_VERSION, provider },
    readyTimeoutMs: parsePositiveInt(options.readyTimeoutMs ?? nonEmpty(env['SHARDSYNC_STACK_READY_TIMEOUT_MS']) ?? 120_000, 'SHARDSYNC_STACK_READY_TIMEOUT_MS'),
    stopGraceMs: parsePositiveInt(options.stopGraceMs ?? 30_000, 'stopGraceMs'),
    log,
  };
}

/** Where each server keeps its files inside the state directory. */
export interface ServerPaths {
  /** Config files written at each start. */
  confDir: string;
  dataDir: string;
  logFile: string;
  pidFile: string;
}

/** Every entry {@link serverPaths} puts in a state directory: all that `wipe` deletes. */
export const STATE_ENTRIES = ['conf', 'kafka', 'redis', 's3', 'logs', 'pids'] as const;

export function serverPaths(stateDir: string, kind: 'kafka' | 'redis' | 's3', name: string): ServerPaths {
  const id = kind === 's3' ? `s3-${name}` : kind;
  return {
    confDir: join(stateDir, 'conf', id),
    dataDir: kind === 's3' ? join(stateDir, 's3', name) : join(stateDir, kind),
    logFile: join(stateDir, 'logs', `${id}.log`),
    pidFile: join(stateDir, 'pids', `${id}.pid`),
  };
}
