import { readdirSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError, InfraError, isInfraError } from './errors.js';
import { ensureArtifacts } from './maven.js';
import { compileStackOptions, serverPaths, STATE_ENTRIES, type CompiledStackOptions, type StackOptions } from './options.js';
import { inspectPid, readPidRecord, removePidRecord } from './pidfile.js';
import { procfs, stopProcessGroup } from './process.js';
import { stackServers, type ServerHandle, type ServerStatus, type StartOutcome, type StopOutcome } from './servers.js';
import { requireJava } from './tools.js';
import { kafkaArtifactSet, s3proxyArtifactSet } from './versions.js';

export interface DatacenterStatus {
  name: string;
  endpoint: string;
  region: string;
  bucket: string;
  healthy: boolean;
  state: ServerStatus['state'];
  pid: number | null;
}

/** What `status --json` prints and the API returns: where everything listens and whether it answers. */
export interface StackStatus {
  /** True when every server answers (and every bucket exists). */
  healthy: boolean;
  topologyPath: string;
  stateDir: string;
  kafka: { bootstrap: string; brokers: string[]; version: string; healthy: boolean; state: ServerStatus['state']; pid: number | null };
  redis: { url: string; healthy: boolean; state: ServerStatus['state']; pid: number | null };
  datacenters: DatacenterStatus[];
  /** One row per server, in the order of the status table. */
  servers: ServerStatus[];
}

function findServer(servers: ServerHandle[], name: string): ServerHandle {
  const server = servers.find((s) => s.name === name);
  if (server === undefined) {
    throw new InfraError('SHARDSYNC_INFRA_UNKNOWN_SERVER', `no server "${name}" in the local stack; known servers: ${servers.map((s) => s.name).join(', ')}`);
  }
  return server;
}

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

/** Turns several failures into one error that names each, keeping the first one's code. */
function combined(failures: Array<{ name: string; error: unknown }>): Error | undefined {
  const first = failures[0];
  if (first === undefined) return undefined;
  if (failures.length === 1) return asError(first.error);
  const code = isInfraError(first.error) ? first.error.code : 'SHARDSYNC_INFRA_START_FAILED';
  return new InfraError(code, `${failures.length} servers failed:\n${failures.map((f) => `* ${f.name}: ${describeError(f.error)}`).join('\n')}`, { cause: first.error });
}

async function collectStatus(options: CompiledStackOptions, servers: ServerHandle[]): Promise<StackStatus> {
  const rows = await Promise.all(servers.map((s) => s.status()));
  const byName = new Map(rows.map((r) => [r.name, r]));
  const row = (name: string): ServerStatus => {
    const r = byName.get(name);
    if (r === undefined) throw new Error(`internal: no status row for ${name}`);
    return r;
  };
  const kafka = row('kafka');
  const redis = row('redis');
  return {
    healthy: rows.every((r) => r.healthy),
    topologyPath: options.topologyPath,
    stateDir: options.stateDir,
    kafka: { bootstrap: kafka.address, brokers: options.topology.kafka.brokers, version: options.kafka.version, healthy: kafka.healthy, state: kafka.state, pid: kafka.pid },
    redis: { url: options.topology.redis.url, healthy: redis.healthy, state: redis.state, pid: redis.pid },
    datacenters: options.topology.datacenters.map((dc) => {
      const r = row(dc.name);
      return { name: dc.name, endpoint: dc.s3.endpoint, region: dc.s3.region, bucket: dc.s3.bucket, healthy: r.healthy, state: r.state, pid: r.pid };
    }),
    servers: rows,
  };
}

async function startAll(options: CompiledStackOptions, servers: ServerHandle[]): Promise<void> {
  const failures: Array<{ name: string; error: unknown }> = [];
  await Promise.all(
    servers.map(async (server) => {
      const started = Date.now();
      try {
        const outcome: StartOutcome = await server.start();
        const took = ((Date.now() - started) / 1000).toFixed(1);
        options.log(
          outcome === 'started' ? `${server.name}: started at ${server.address} in ${took}s` : outcome === 'external' ? `${server.name}: using the one already at ${server.address} (not managed by the stack)` : `${server.name}: already running at ${server.address}`,
        );
      } catch (error) {
        failures.push({ name: server.name, error });
      }
    }),
  );
  const error = combined(failures);
  if (error !== undefined) throw error;
}

/**
 * Starts every server of the topology that does not run yet, in parallel, and waits until each
 * answers (and each datacenter's bucket exists). Harmless when the stack already runs.
 */
export async function stackUp(options: StackOptions = {}): Promise<StackStatus> {
  const compiled = compileStackOptions(options);
  const servers = stackServers(compiled);
  const started = Date.now();
  await requireJava();
  // Fetch once, before four servers ask for the same jars at the same time.
  await Promise.all([
    ensureArtifacts(kafkaArtifactSet(compiled.kafka.version), compiled.cacheDir, compiled.log),
    ensureArtifacts(s3proxyArtifactSet(compiled.s3proxy.version), compiled.cacheDir, compiled.log),
  ]);
  await startAll(compiled, servers);
  compiled.log(`stack is up (${((Date.now() - started) / 1000).toFixed(1)}s); state in ${compiled.stateDir}`);
  return collectStatus(compiled, servers);
}

/**
 * Stops every server the stack started (never a Redis it found running). Data stays. That
 * includes servers of this state directory the current topology does not name (a datacenter
 * another topology file added), found by their pid files: `wipe` deletes the directory next.
 */
export async function stackDown(options: StackOptions = {}): Promise<Record<string, StopOutcome>> {
  const compiled = compileStackOptions(options);
  const outcomes: Record<string, StopOutcome> = {};
  const failures: Array<{ name: string; error: unknown }> = [];
  const stop = async (name: string, run: () => Promise<StopOutcome>) => {
    try {
      outcomes[name] = await run();
      if (outcomes[name] === 'stopped') compiled.log(`${name}: stopped`);
    } catch (error) {
      failures.push({ name, error });
    }
  };
  const servers = stackServers(compiled);
  await Promise.all(servers.map((server) => stop(server.name, () => server.stop())));
  await Promise.all(unlistedPidFiles(compiled).map((file) => stop(file.server, () => stopByPidFile(file.path, compiled))));
  const error = combined(failures);
  if (error !== undefined) throw error;
  return outcomes;
}

/**
 * Readable pid files of the state directory that belong to no server of the topology. Compared
 * by path, not by the name inside: a file being written (empty for a moment) is never taken for
 * another server's, and one that cannot be read is left alone.
 */
function unlistedPidFiles(compiled: CompiledStackOptions): Array<{ server: string; path: string }> {
  const dir = join(compiled.stateDir, 'pids');
  const listed = new Set([
    serverPaths(compiled.stateDir, 'kafka', 'kafka').pidFile,
    serverPaths(compiled.stateDir, 'redis', 'redis').pidFile,
    ...compiled.topology.datacenters.map((dc) => serverPaths(compiled.stateDir, 's3', dc.name).pidFile),
  ]);
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.pid'));
  } catch {
    return [];
  }
  return files.flatMap((f) => {
    const path = join(dir, f);
    const record = listed.has(path) ? undefined : readPidRecord(path);
    return record === undefined ? [] : [{ server: record.server, path }];
  });
}

/** Stops the process a pid file records, if it is still ours; the pid file goes either way. */
async function stopByPidFile(path: string, compiled: CompiledStackOptions): Promise<StopOutcome> {
  const record = readPidRecord(path);
  const running = record !== undefined && inspectPid(record, procfs) === 'running';
  if (running) await stopProcessGroup(record.pid, { graceMs: compiled.stopGraceMs, name: record.server });
  await removePidRecord(path);
  return running ? 'stopped' : 'not-running';
}

/** Where each server listens and whether it answers now. */
export async function stackStatus(options: StackOptions = {}): Promise<StackStatus> {
  const compiled = compileStackOptions(options);
  return collectStatus(compiled, stackServers(compiled));
}

/**
 * Starts one server: `kafka`, `redis` or a datacenter name such as `dc-b`. For fault tests that
 * stopped it with {@link stopServer}; its data is as it was left.
 */
export async function startServer(name: string, options: StackOptions = {}): Promise<StartOutcome> {
  const compiled = compileStackOptions(options);
  return findServer(stackServers(compiled), name).start();
}

/** Stops one server the stack started (SIGTERM, then SIGKILL after the grace period); its data stays. */
export async function stopServer(name: string, options: StackOptions = {}): Promise<StopOutcome> {
  const compiled = compileStackOptions(options);
  return findServer(stackServers(compiled), name).stop();
}

/**
 * Stops the servers the stack started, then deletes what the stack keeps in the state directory
 * (Kafka log, S3 objects, Redis data of a Redis it started, logs) and the directory once empty.
 * Only the stack's own entries: a state directory set to a directory of the user's by mistake
 * (`--state-dir .`) loses nothing else. Stopping first rather than refusing: a wipe is asked for
 * to get a clean slate, and deleting files under a running server would corrupt it. A Redis the
 * stack did not start is neither stopped nor emptied.
 */
export async function stackWipe(options: StackOptions = {}): Promise<{ stateDir: string }> {
  const compiled = compileStackOptions(options);
  await stackDown({ ...options, topology: compiled.topology });
  await Promise.all(STATE_ENTRIES.map((entry) => rm(join(compiled.stateDir, entry), { recursive: true, force: true })));
  try {
    await rmdir(compiled.stateDir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') compiled.log(`${compiled.stateDir} holds files the stack did not write; left them there`);
    else if (code !== 'ENOENT') throw error;
  }
  compiled.log(`wiped ${compiled.stateDir}`);
  return { stateDir: compiled.stateDir };
}
