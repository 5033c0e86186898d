import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

interface Sent {
  signal: NodeJS.Signals;
  /** After the previous signal (the first: after "ready"). */
  afterMs: number;
}

interface Ended {
  code: number | null;
  /** From the first signal to the exit. */
  ms: number;
  out: string;
}

/** Starts a fixture (signal-shutdown.ts unless named), sends it `signals` once it is ready, and returns its exit code, how long it took to exit and its output. */
async function stop(scenario: string, graceMs: number, signals: readonly Sent[] = [{ signal: 'SIGTERM', afterMs: 0 }], fixture = 'signal-shutdown.ts'): Promise<Ended> {
  const child = spawn(process.execPath, ['--conditions=@shardsync/source', '--import', 'tsx', `packages/runtime/test/fixtures/${fixture}`, scenario, String(graceMs)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready')) resolve();
    }),
  );
  const signalled = Date.now();
  for (const { signal, afterMs } of signals) {
    await new Promise((r) => setTimeout(r, afterMs));
    if (child.exitCode === null) child.kill(signal);
  }
  const code = await exited;
  return { code, ms: Date.now() - signalled, out };
}

/** {@link stop}, sending `signal` twice, `gapMs` apart. */
function twice(scenario: string, graceMs: number, signal: NodeJS.Signals, gapMs: number): Promise<Ended> {
  return stop(scenario, graceMs, [
    { signal, afterMs: 0 },
    { signal, afterMs: gapMs },
  ]);
}

describe('Shutdown.handleSignals in a real process', () => {
  it('exits 0 once a clean shutdown is done', async () => {
    expect((await stop('clean', 5000)).code).toBe(0);
  }, 30_000);

  it('exits 1 when the grace period runs out, even if nothing but the pending shutdown is left', async () => {
    const { code, ms } = await stop('hangs', 1000);
    expect(code).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(900);
  }, 30_000);

  it.each([
    { what: 'keeps the failure exit code a fatal error set before the signal, rather than exiting 0', scenario: 'after-failure', code: 1 },
    { what: 'exits 1 when a shutdown step fails, rather than reporting a clean stop', scenario: 'step-fails', code: 1 },
    { what: "exits 1 when a step of the service's own close fails inside it", scenario: 'inner-step-fails', code: 1 },
    { what: 'keeps the first non-zero exit code when a shutdown step then fails too', scenario: 'failure-then-step-fails', code: 3 },
  ])('$what', async ({ scenario, code }) => {
    expect((await stop(scenario, 5000)).code).toBe(code);
  }, 30_000);

  it('ignores a SIGINT repeated within milliseconds (npm forwarding a terminal Ctrl-C) and finishes the graceful stop', async () => {
    const { code, out } = await twice('clean', 5000, 'SIGINT', 20);
    expect(code).toBe(0);
    expect(out).toContain('step done');
  }, 30_000);

  it('exits 1 at once on a signal repeated after the repeat window, without waiting for the grace period', async () => {
    const { code, ms } = await twice('hangs', 20_000, 'SIGTERM', 2500);
    expect(code).toBe(1);
    expect(ms).toBeLessThan(10_000);
  }, 30_000);
});

describe('runService in a real process', () => {
  it('on a SIGTERM while starting, closes the service once its start ends and exits 0', async () => {
    const { code, out } = await stop('start-ignores-stop', 5000, [{ signal: 'SIGTERM', afterMs: 0 }], 'run-service.ts');
    expect(code).toBe(0);
    expect(out).toContain('service closed');
  }, 30_000);
});
