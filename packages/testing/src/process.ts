import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';
import type { Topology } from '@shardsync/config';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export type ServiceName = 'producer' | 'consumer' | 'reconciler';

export interface SpawnedService {
  readonly child: ChildProcess;
  /** Its exit code, or the signal that ended it. */
  readonly exited: Promise<number | NodeJS.Signals | null>;
}

/**
 * Runs a service's real entry point (its TypeScript source) as a child process, as a supervisor
 * would, with `topology` in a file named by SHARDSYNC_TOPOLOGY and `env` on top of this process's
 * environment. For what only a separate process shows: a crash, SIGKILL, an exit code, or network
 * behaviour that a client in the same event loop never sees. Killed (SIGKILL) when the test ends.
 */
export function spawnService(service: ServiceName, topology: Topology, env: Record<string, string>, stdio: StdioOptions = ['ignore', 'ignore', 'inherit']): SpawnedService {
  const dir = mkdtempSync(join(tmpdir(), `shardsync-${service}-`));
  const file = join(dir, 'topology.json');
  writeFileSync(file, JSON.stringify(topology));
  const child = spawn(process.execPath, ['--conditions=@shardsync/source', '--import', 'tsx', `services/${service}/src/main.ts`], {
    cwd: REPO_ROOT,
    env: { ...process.env, SHARDSYNC_TOPOLOGY: file, ...env },
    stdio,
  });
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return { child, exited };
}

/** A TCP port free on 127.0.0.1 right now, for a process that must be told its port. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('the OS gave no TCP port');
  return address.port;
}
