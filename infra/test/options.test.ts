import { join } from 'node:path';
import type { Topology } from '@shardsync/config';
import { describe, expect, it } from 'vitest';
import { parseCliArgs } from '../src/cli.js';
import { compileStackOptions, endpointHostPort, REPO_ROOT, serverPaths } from '../src/options.js';
import { formatStatusTable } from '../src/status-table.js';
import type { StackStatus } from '../src/stack.js';

const topology: Topology = {
  kafka: { brokers: ['127.0.0.1:19092'], clientId: 'shardsync', topics: { updates: 'shardsync.updates', deadLetters: 'shardsync.updates.dlq' }, partitions: 12, replicationFactor: 1, retentionMs: 86_400_000 },
  redis: { url: 'redis://127.0.0.1:6379' },
  datacenters: ['dc-a', 'dc-b'].map((name, i) => ({
    name,
    s3: { endpoint: `http://127.0.0.1:${19001 + i}`, region: 'us-east-1', bucket: `shardsync-${name}`, forcePathStyle: true, credentials: { type: 'none' as const }, listing: 'flat' as const, artifacts: 'none' as const },
  })),
  datasets: [{ name: 'models', datacenters: ['dc-a', 'dc-b'] }],
};

const quiet = () => undefined;

describe('stack options', () => {
  it('takes ports from the topology and puts state in the repository by default', () => {
    const o = compileStackOptions({ topology, env: {}, log: quiet });
    expect(o.kafka).toMatchObject({ host: '127.0.0.1', port: 19092, controllerPort: 19093 });
    expect(o.stateDir).toBe(join(REPO_ROOT, '.shardsync-state'));
    expect(o.cacheDir).toMatch(/\.cache[/\\]shardsync$/);
  });

  it('reads the SHARDSYNC_* variables', () => {
    const o = compileStackOptions({
      topology,
      log: quiet,
      env: { SHARDSYNC_STATE_DIR: '/tmp/st', SHARDSYNC_CACHE_DIR: '/tmp/cache', SHARDSYNC_KAFKA_CONTROLLER_PORT: '29999', SHARDSYNC_KAFKA_VERSION: '3.9.1', SHARDSYNC_S3PROXY_PROVIDER: 'filesystem' },
    });
    expect(o).toMatchObject({ stateDir: '/tmp/st', cacheDir: '/tmp/cache', kafka: { controllerPort: 29999, version: '3.9.1' }, s3proxy: { provider: 'filesystem' } });
  });

  it.each([
    [{ SHARDSYNC_KAFKA_CONTROLLER_PORT: 'abc' }, /SHARDSYNC_KAFKA_CONTROLLER_PORT must be a port number/],
    [{ SHARDSYNC_KAFKA_CONTROLLER_PORT: '19092' }, /must differ from the broker port/],
    [{ SHARDSYNC_S3PROXY_PROVIDER: 'transient' }, /must be "filesystem" or "filesystem-nio2"/],
    [{ SHARDSYNC_STACK_READY_TIMEOUT_MS: '-5' }, /positive whole number/],
  ])('rejects %o with a message naming the variable', (env, message) => {
    expect(() => compileStackOptions({ topology, env, log: quiet })).toThrow(message);
  });

  it.each([['stateDir'], ['cacheDir']])('refuses an empty %s rather than taking the working directory (wipe would delete it)', (field) => {
    expect(() => compileStackOptions({ topology, env: {}, log: quiet, [field]: '' })).toThrow(/must not be empty/);
  });

  it.each([
    ['two datacenters on one endpoint', { ...topology, datacenters: topology.datacenters.map((dc) => ({ ...dc, s3: { ...dc.s3, endpoint: 'http://127.0.0.1:19001' } })) }, {}, /dc-a and dc-b both need port 19001/],
    ['the controller on a datacenter port', topology, { SHARDSYNC_KAFKA_CONTROLLER_PORT: '19002' }, /kafka \(controller\) and dc-b both need port 19002/],
    ['redis on a datacenter port', { ...topology, redis: { url: 'redis://127.0.0.1:19001' } }, {}, /redis and dc-a both need port 19001/],
  ])('refuses %s: one server would take the other for its own', (_what, given, env, message) => {
    expect(() => compileStackOptions({ topology: given, env, log: quiet })).toThrow(message);
  });

  it('refuses a datacenter named like another server, which start/stop could not tell apart', () => {
    const clash = { ...topology, datacenters: [{ ...topology.datacenters[0]!, name: 'kafka' }] };
    expect(() => compileStackOptions({ topology: clash, env: {}, log: quiet })).toThrow(/collides with the kafka server/);
  });

  it('keeps each datacenter in its own data directory', () => {
    expect(serverPaths('/st', 's3', 'dc-b')).toEqual({ confDir: '/st/conf/s3-dc-b', dataDir: '/st/s3/dc-b', logFile: '/st/logs/s3-dc-b.log', pidFile: '/st/pids/s3-dc-b.pid' });
    expect(endpointHostPort('http://127.0.0.1:19002')).toEqual({ host: '127.0.0.1', port: 19002 });
    expect(endpointHostPort('https://s3.local')).toEqual({ host: 's3.local', port: 443 });
  });
});

describe('command line', () => {
  it('parses commands, one-server commands and options', () => {
    expect(parseCliArgs(['status', '--json'])).toEqual({ command: 'status', json: true, options: {} });
    expect(parseCliArgs(['stop', 'dc-b', '--state-dir', '/tmp/x'])).toEqual({ command: 'stop', server: 'dc-b', json: false, options: { stateDir: '/tmp/x' } });
    expect(parseCliArgs(['up', '--timeout-ms', '5000', '--topology', 't.yaml'])).toMatchObject({ options: { readyTimeoutMs: 5000, topologyPath: 't.yaml' } });
    expect(parseCliArgs([])).toEqual({ command: 'help' });
  });

  it.each([[['start']], [['launch']], [['up', '--verbose']], [['up', '--timeout-ms', 'soon']], [['status', 'extra']], [['wipe', '--state-dir', '']], [['up', '--topology', '']]])('rejects %j with usage', (argv) => {
    expect(() => parseCliArgs(argv)).toThrow(/usage:/);
  });
});

describe('status table', () => {
  it('shows one row per server and names the unhealthy ones', () => {
    const row = (name: string, kind: 'kafka' | 'redis' | 's3', healthy: boolean) => ({
      name, kind, healthy, state: healthy ? ('running' as const) : ('stopped' as const), address: `${name}-addr`, pid: healthy ? 100 : null, logFile: `/st/logs/${name}.log`,
    });
    const status: StackStatus = {
      healthy: false,
      topologyPath: 't.yaml',
      stateDir: '/st',
      kafka: { bootstrap: '127.0.0.1:19092', brokers: ['127.0.0.1:19092'], version: '4.1.1', healthy: true, state: 'running', pid: 100 },
      redis: { url: 'redis://127.0.0.1:6379', healthy: true, state: 'running', pid: 100 },
      datacenters: [{ name: 'dc-b', endpoint: 'http://127.0.0.1:19002', region: 'us-east-1', bucket: 'shardsync-dc-b', healthy: false, state: 'stopped', pid: null }],
      servers: [row('kafka', 'kafka', true), row('redis', 'redis', true), row('dc-b', 's3', false)],
    };
    const table = formatStatusTable(status);
    expect(table.split('\n')[0]).toMatch(/^SERVER\s+STATE\s+ADDRESS\s+PID\s+DETAIL$/);
    expect(table).toMatch(/dc-b\s+stopped\s+dc-b-addr \(bucket shardsync-dc-b\)\s+-/);
    expect(table).toContain('not healthy: dc-b (start with `npm run stack:up`;');
    // A port another program holds is not fixed by starting: the hint says to free it.
    const taken = formatStatusTable({ ...status, servers: [row('kafka', 'kafka', true), { ...row('dc-b', 's3', false), state: 'port-taken' }] });
    expect(taken).toContain('not healthy: dc-b (free the port of dc-b (another program holds it) or move the stack to other ports, then `npm run stack:up`;');
  });

  it('says "unhealthy" once for a started server that does not answer, and adds it to an external one that fails', () => {
    const base = { kind: 's3' as const, healthy: false, address: 'addr', pid: null, logFile: '/st/logs/x.log' };
    const status: StackStatus = {
      healthy: false,
      topologyPath: 't.yaml',
      stateDir: '/st',
      kafka: { bootstrap: '127.0.0.1:19092', brokers: ['127.0.0.1:19092'], version: '4.1.1', healthy: false, state: 'unhealthy', pid: 7 },
      redis: { url: 'redis://127.0.0.1:6379', healthy: false, state: 'external', pid: null },
      datacenters: [],
      servers: [
        { ...base, name: 'kafka', kind: 'kafka', state: 'unhealthy', pid: 7 },
        { ...base, name: 'redis', kind: 'redis', state: 'external' },
      ],
    };
    const lines = formatStatusTable(status).split('\n');
    expect(lines.find((l) => l.startsWith('kafka'))).toMatch(/^kafka\s+unhealthy\s+addr\s+7$/);
    expect(lines.find((l) => l.startsWith('redis'))).toMatch(/^redis\s+external \(unhealthy\)\s+addr\s+-$/);
  });
});
