import type { Datacenter } from '@shardsync/config';
import { describeError } from './errors.js';
import { kafkaAddress, kafkaServer } from './kafka.js';
import { isPortOpen, type ManagedProcess } from './managed-process.js';
import type { CompiledStackOptions } from './options.js';
import { probeRedis, redisAnswers, RedisServer } from './redis.js';
import { ensureBucket, probeBucket, s3proxyServer } from './s3proxy.js';

export type ServerKind = 'kafka' | 'redis' | 's3';

export type ServerState =
  /** Started by this stack and answering. */
  | 'running'
  /** Started by this stack but not answering (starting, hung, or failing). */
  | 'unhealthy'
  /** Not started by this stack and used as it is (only Redis). */
  | 'external'
  /** Not running; its port is free. */
  | 'stopped'
  /** Not ours, yet something else holds its port: `up` would fail. */
  | 'port-taken';

export interface ServerStatus {
  /** `kafka`, `redis` or a datacenter name. */
  name: string;
  kind: ServerKind;
  state: ServerState;
  healthy: boolean;
  /** `host:port` for Kafka, the URL for Redis and S3. */
  address: string;
  /** Process id of a server this stack started, else null. */
  pid: number | null;
  /** Why it is unhealthy, when it is. */
  detail?: string;
  logFile: string;
}

export type StartOutcome = 'started' | 'already-running' | 'external';
export type StopOutcome = 'stopped' | 'not-running' | 'external';

/** One server of the stack, whatever its kind. */
export interface ServerHandle {
  readonly name: string;
  readonly kind: ServerKind;
  readonly address: string;
  start(): Promise<StartOutcome>;
  stop(): Promise<StopOutcome>;
  status(): Promise<ServerStatus>;
}

async function processStatus(
  proc: ManagedProcess,
  base: Pick<ServerStatus, 'name' | 'kind' | 'address'>,
  extraCheck?: () => Promise<void>,
): Promise<ServerStatus> {
  const { state, record } = proc.snapshot();
  const logFile = proc.spec.logFile;
  if (state === 'running' && record !== undefined) {
    const health = await proc.healthy();
    let detail = health.detail;
    if (health.healthy && extraCheck !== undefined) {
      detail = await extraCheck().then(
        () => undefined,
        (error: unknown) => describeError(error),
      );
    }
    const healthy = detail === undefined;
    return { ...base, state: healthy ? 'running' : 'unhealthy', healthy, pid: record.pid, logFile, ...(detail === undefined ? {} : { detail }) };
  }
  const taken = (await Promise.all(proc.spec.ports.map((p) => isPortOpen(proc.spec.host, p)))).some(Boolean);
  return taken
    ? { ...base, state: 'port-taken', healthy: false, pid: null, logFile, detail: 'another program holds the port' }
    : { ...base, state: 'stopped', healthy: false, pid: null, logFile };
}

function kafkaHandle(options: CompiledStackOptions): ServerHandle {
  const proc = kafkaServer(options);
  const base = { name: 'kafka', kind: 'kafka' as const, address: kafkaAddress(options) };
  return {
    ...base,
    start: () => proc.start(),
    stop: () => proc.stop(),
    status: () => processStatus(proc, base),
  };
}

function s3Handle(options: CompiledStackOptions, dc: Datacenter): ServerHandle {
  const proc = s3proxyServer(options, dc);
  const base = { name: dc.name, kind: 's3' as const, address: dc.s3.endpoint };
  return {
    ...base,
    start: async () => {
      const outcome = await proc.start();
      if ((await ensureBucket(dc)) === 'created') options.log(`${dc.name}: created bucket ${dc.s3.bucket}`);
      return outcome;
    },
    stop: () => proc.stop(),
    status: () => processStatus(proc, base, () => probeBucket(dc)),
  };
}

function redisHandle(options: CompiledStackOptions): ServerHandle {
  const redis = new RedisServer(options);
  const base = { name: 'redis', kind: 'redis' as const, address: redis.displayUrl };
  return {
    ...base,
    start: () => redis.start(),
    stop: async () => ((await redis.process.liveRecord()) === undefined ? ((await redisAnswers(redis.url)) ? 'external' : 'not-running') : redis.process.stop()),
    status: async () => {
      if (redis.process.snapshot().state === 'running') return processStatus(redis.process, base);
      if (!(await redisAnswers(redis.url))) return processStatus(redis.process, base);
      const detail = await probeRedis(redis.url).then(
        () => undefined,
        (error: unknown) => describeError(error),
      );
      return { ...base, state: 'external', healthy: detail === undefined, pid: null, logFile: redis.process.spec.logFile, ...(detail === undefined ? {} : { detail }) };
    },
  };
}

/** Every server of the topology, in a fixed order: Kafka, Redis, then the datacenters. */
export function stackServers(options: CompiledStackOptions): ServerHandle[] {
  return [kafkaHandle(options), redisHandle(options), ...options.topology.datacenters.map((dc) => s3Handle(options, dc))];
}

