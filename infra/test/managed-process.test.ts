import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isPortOpen, ManagedProcess } from '../src/managed-process.js';
import { readPidRecord } from '../src/pidfile.js';
import { isAlive, stopProcessGroup } from '../src/process.js';

/** Polls `condition` every 2 ms, failing after 20 s. */
async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met within 20 s');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shardsync-managed-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A port nothing listens on (the kernel's pick, released again). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A stand-in server: a node process listening on `port`, exiting at once if the port is taken. */
function standInServer(dir: string, port: number, launched: number[]): ManagedProcess {
  const marker = `shardsync-stand-in-${port}`;
  return new ManagedProcess({
    name: 'stand-in',
    host: '127.0.0.1',
    ports: [port],
    pidFile: join(dir, 'pids', 'stand-in.pid'),
    logFile: join(dir, 'logs', 'stand-in.log'),
    plan: () => {
      launched.push(Date.now());
      return Promise.resolve({
        command: process.execPath,
        args: ['-e', `require('node:net').createServer().listen(${port}, '127.0.0.1')`, marker],
        cwd: dir,
        cmdlineMarkers: [marker],
      });
    },
    probe: async () => {
      if (!(await isPortOpen('127.0.0.1', port, 500))) throw new Error(`nothing answers on ${port}`);
    },
    readyTimeoutMs: 20_000,
    stopGraceMs: 5_000,
    log: () => undefined,
  });
}

describe('a managed process', () => {
  it('two starts at once (two `stack:up`) launch one server, and the pid file names the one that serves', async () => {
    const dir = stateDir();
    const port = await freePort();
    const launched: number[] = [];
    // Two handles on the same pid file, as two `stack:up` processes have.
    const first = standInServer(dir, port, launched);
    const second = standInServer(dir, port, launched);
    onTestFinished(async () => {
      await first.stop().catch(() => undefined);
    });

    const outcomes = await Promise.all([first.start(), second.start()]);

    expect(launched).toHaveLength(1);
    expect([...outcomes].sort()).toEqual(['already-running', 'started']);
    const record = readPidRecord(join(dir, 'pids', 'stand-in.pid'));
    expect(record !== undefined && isAlive(record.pid)).toBe(true);
    expect(await first.stop()).toBe('stopped');
    expect(await isPortOpen('127.0.0.1', port)).toBe(false);
  });

  it('a stop while a start runs waits for it, so the server it launches is stopped too', async () => {
    const dir = stateDir();
    const port = await freePort();
    const launched: number[] = [];
    const proc = standInServer(dir, port, launched);
    const pidFile = join(dir, 'pids', 'stand-in.pid');
    onTestFinished(async () => {
      const record = readPidRecord(pidFile);
      if (record !== undefined) await stopProcessGroup(record.pid, { graceMs: 1_000, name: 'stand-in' });
    });
    const starting = proc.start();
    // Planning the launch happens under the start/stop lock: from here on the start holds it.
    await waitUntil(() => launched.length === 1);
    const stopping = proc.stop();
    // The server the start launches, named by its pid file until the stop removes it.
    let pid: number | undefined;
    await waitUntil(() => (pid = readPidRecord(pidFile)?.pid) !== undefined);
    const stopped = await stopping;
    const started = await starting.catch((error: unknown) => error);
    expect(started).toBe('started');
    expect(stopped).toBe('stopped');
    // The process, not its port: on a busy machine another test may be handed the freed port at once.
    expect(pid !== undefined && isAlive(pid)).toBe(false);
  });
});
