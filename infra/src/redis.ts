import { mkdir } from 'node:fs/promises';
import { redactRedisUrl } from '@shardsync/config';
import { Redis } from 'ioredis';
import { InfraError } from './errors.js';
import { ManagedProcess } from './managed-process.js';
import { serverPaths, type CompiledStackOptions } from './options.js';
import { requireRedisServer } from './tools.js';

export interface RedisTarget {
  host: string;
  port: number;
  password: string | undefined;
  tls: boolean;
}

export function parseRedisUrl(url: string): RedisTarget {
  const u = new URL(url);
  return {
    host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: u.port === '' ? 6379 : Number(u.port),
    password: u.password === '' ? undefined : decodeURIComponent(u.password),
    tls: u.protocol === 'rediss:',
  };
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** `redis-server` arguments for a local server whose data lives in `dataDir`. */
export function redisServerArgs(target: RedisTarget, dataDir: string): string[] {
  const args = [
    '--bind', target.host,
    '--port', String(target.port),
    '--dir', dataDir,
    // Append-only file: queued jobs survive a stop, even a SIGKILL.
    '--appendonly', 'yes',
    // BullMQ loses jobs when Redis evicts keys.
    '--maxmemory-policy', 'noeviction',
    '--daemonize', 'no',
    '--logfile', '',
  ];
  if (target.password !== undefined) args.push('--requirepass', target.password);
  return args;
}

/** Probes Redis at the URL: PING, then the eviction policy check. Gives up within about 2 s. */
export async function probeRedis(url: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 1_500, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    await checkEvictionPolicy(client, url);
  } finally {
    client.disconnect();
  }
}

async function checkEvictionPolicy(client: Redis, rawUrl: string): Promise<void> {
  const url = redactRedisUrl(rawUrl);
  const { host, port } = parseRedisUrl(rawUrl);
  let policy: string | undefined;
  try {
    const reply: unknown = await client.config('GET', 'maxmemory-policy');
    if (Array.isArray(reply) && typeof reply[1] === 'string') policy = reply[1];
  } catch (cause) {
    throw new InfraError('SHARDSYNC_INFRA_REDIS_POLICY', `Redis at ${url} refuses CONFIG GET maxmemory-policy, so its eviction policy cannot be checked; make sure it is "noeviction"`, { cause });
  }
  if (policy !== 'noeviction') {
    throw new InfraError(
      'SHARDSYNC_INFRA_REDIS_POLICY',
      `Redis at ${url} has maxmemory-policy "${policy ?? 'unknown'}"; shardsync's job queues need "noeviction" or Redis may drop jobs under memory pressure. ` +
        `Fix: \`redis-cli -h ${host} -p ${port} CONFIG SET maxmemory-policy noeviction\` (and \`maxmemory-policy noeviction\` in redis.conf to keep it)`,
    );
  }
}

/** Whether Redis answers PING at the URL (no policy check). */
export async function redisAnswers(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * The Redis of the stack. A Redis that already answers at the topology's URL is used as it is
 * (and never stopped); otherwise a local `redis-server` is started on that port.
 */
export class RedisServer {
  readonly process: ManagedProcess;
  readonly url: string;
  /** {@link url} without its password. */
  readonly displayUrl: string;

  private readonly options: CompiledStackOptions;

  constructor(options: CompiledStackOptions) {
    this.options = options;
    this.url = options.topology.redis.url;
    this.displayUrl = redactRedisUrl(this.url);
    const target = parseRedisUrl(this.url);
    const paths = serverPaths(options.stateDir, 'redis', 'redis');
    this.process = new ManagedProcess({
      name: 'redis',
      host: target.host,
      ports: [target.port],
      pidFile: paths.pidFile,
      logFile: paths.logFile,
      readyTimeoutMs: options.readyTimeoutMs,
      stopGraceMs: options.stopGraceMs,
      log: options.log,
      probe: () => probeRedis(this.url),
      plan: async () => {
        await requireRedisServer(this.displayUrl);
        await mkdir(paths.dataDir, { recursive: true });
        // redis-server rewrites its process title to "redis-server host:port", dropping other arguments.
        return { command: 'redis-server', args: redisServerArgs(target, paths.dataDir), cwd: paths.dataDir, cmdlineMarkers: ['redis-server', `:${target.port}`] };
      },
    });
  }

  /** Starts a local Redis unless ours runs or another answers; checks the eviction policy either way. */
  async start(): Promise<'started' | 'already-running' | 'external'> {
    const ours = await this.process.liveRecord();
    if (ours === undefined) {
      if (await redisAnswers(this.url)) {
        await probeRedis(this.url);
        return 'external';
      }
      const target = parseRedisUrl(this.url);
      if (!LOOPBACK.has(target.host)) {
        throw new InfraError('SHARDSYNC_INFRA_START_FAILED', `no Redis answers at ${this.displayUrl}, and the stack only starts Redis on this machine (127.0.0.1/localhost); start that Redis or point redis.url at a local port`);
      }
      if (target.tls) throw new InfraError('SHARDSYNC_INFRA_START_FAILED', `no Redis answers at ${this.displayUrl}; the stack cannot start a TLS (rediss://) Redis, use redis:// locally`);
      this.options.log(`redis: nothing answers at ${this.displayUrl}; starting redis-server`);
    }
    return this.process.start();
  }
}
