import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isPortOpen, ManagedProcess } from '../src/managed-process.js';
import { readPidRecord } from '../src/pidfile.js';
import { isAlive, stopProcessGroup } from '../src/process.js';

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
    const proc = standInServer(dir, port, []);
    const starting = proc.start();
    // Let the start get as far as launching the server.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const stopped = await proc.stop();
    const started = await starting.catch((error: unknown) => error);
    onTestFinished(async () => {
      const record = readPidRecord(join(dir, 'pids', 'stand-in.pid'));
      if (record !== undefined) await stopProcessGroup(record.pid, { graceMs: 1_000, name: 'stand-in' });
    });
    expect(started).toBe('started');
    expect(stopped).toBe('stopped');
    expect(await isPortOpen('127.0.0.1', port)).toBe(false);
  });
});
