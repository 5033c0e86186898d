import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Starts the fixture, sends it SIGTERM once it is ready, and returns its exit code and how long it took to exit. */
async function terminate(scenario: string, graceMs: number): Promise<{ code: number | null; ms: number }> {
  const child = spawn(process.execPath, ['--conditions=@shardsync/source', '--import', 'tsx', 'packages/runtime/test/fixtures/signal-shutdown.ts', scenario, String(graceMs)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve) => child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve()));
  const signalled = Date.now();
  child.kill('SIGTERM');
  const code = await exited;
  return { code, ms: Date.now() - signalled };
}

describe('Shutdown.handleSignals in a real process', () => {
  it('exits 0 once a clean shutdown is done', async () => {
    expect((await terminate('clean', 5000)).code).toBe(0);
  }, 30_000);

  it('exits 1 when the grace period runs out, even if nothing but the pending shutdown is left', async () => {
    const { code, ms } = await terminate('hangs', 1000);
    expect(code).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(900);
  }, 30_000);

  it('keeps the failure exit code a fatal error set before the signal, rather than exiting 0', async () => {
    expect((await terminate('after-failure', 5000)).code).toBe(1);
  }, 30_000);
});
