import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { stackDown } from '../src/index.js';
import { ManagedProcess } from '../src/managed-process.js';
import { writePidRecord } from '../src/pidfile.js';
import { waitFor } from './helpers.js';

/** A stand-in server: a process group of its own that runs until stopped; removed when the test ends. */
function standIn(): { pid: number; exited: () => boolean } {
  const server = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  const pid = server.pid ?? 0;
  let exited = false;
  server.once('exit', () => (exited = true));
  onTestFinished(() => {
    if (!exited) process.kill(-pid, 'SIGKILL');
  });
  return { pid, exited: () => exited };
}

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shardsync-stack-pids-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('the stack and its pid files', () => {
  it('down also stops a server of its state directory that the current topology does not name', async () => {
    const dir = stateDir();
    // A datacenter another topology file added (dc-d), still running.
    const { pid, exited } = standIn();
    const pidFile = join(dir, 'pids', 's3-dc-d.pid');
    await writePidRecord(pidFile, { server: 'dc-d', pid, startedAt: new Date().toISOString(), cmdlineMarkers: ['sleep', '300'] });

    const outcomes = await stackDown({ stateDir: dir, stopGraceMs: 5_000, log: () => undefined });

    expect(outcomes['dc-d']).toBe('stopped');
    await waitFor(exited, 'the unlisted server to exit');
    expect(existsSync(pidFile)).toBe(false);
  });

  it('down leaves alone a pid file of the topology it cannot read (one being written)', async () => {
    const dir = stateDir();
    const pidFile = join(dir, 'pids', 's3-dc-a.pid');
    mkdirSync(join(dir, 'pids'), { recursive: true });
    writeFileSync(pidFile, '');
    await stackDown({ stateDir: dir, stopGraceMs: 5_000, log: () => undefined });
    expect(existsSync(pidFile)).toBe(true);
  });

  it('up refuses at once, saying what to do, when a server of ours runs on other ports than the topology now gives it', async () => {
    const dir = stateDir();
    const { pid } = standIn();
    const pidFile = join(dir, 'pids', 's3-dc-a.pid');
    await writePidRecord(pidFile, { server: 'dc-a', pid, startedAt: new Date().toISOString(), cmdlineMarkers: ['sleep', '300'], ports: [1] });
    const proc = new ManagedProcess({
      name: 'dc-a',
      host: '127.0.0.1',
      ports: [2],
      pidFile,
      logFile: join(dir, 'dc-a.log'),
      plan: () => Promise.reject(new Error('not started: it runs')),
      probe: () => Promise.reject(new Error('nothing answers on port 2')),
      readyTimeoutMs: 60_000,
      stopGraceMs: 5_000,
      log: () => undefined,
    });
    await expect(proc.start()).rejects.toMatchObject({ code: 'SHARDSYNC_INFRA_PORT_MOVED', message: expect.stringContaining('stop it first') as string });
  });
});
