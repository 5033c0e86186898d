import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs the fixture with a stdout nobody reads for the first 1.5 s, then reads everything; returns the exit code and the lines. */
async function runWithSlowReader(how: 'fatalExit' | 'immediate'): Promise<{ code: number | null; fillers: number; fatal: number }> {
  const child = spawn(process.execPath, ['--conditions=@shardsync/source', '--import', 'tsx', 'services/consumer/test/fixtures/exit-after-logging.ts', how], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // A slow reader is the point here: until it reads, the pipe stays full and writes answer EAGAIN.
  await new Promise((r) => setTimeout(r, 1500));
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (out += chunk));
  await new Promise<void>((resolve) => child.stdout.once('end', resolve));
  const code = await exited;
  const lines = out.split('\n').filter((l) => l.length > 0);
  return { code, fillers: lines.filter((l) => l.includes('"msg":"filler"')).length, fatal: lines.filter((l) => l.includes('"level":60')).length };
}

describe('fatalExit in a real process', () => {
  it('with stdout congested, every line logged before the fatal one, and the fatal one, is written before the process exits 1', async () => {
    expect(await runWithSlowReader('fatalExit')).toEqual({ code: 1, fillers: 2000, fatal: 1 });
  }, 30_000);

  it('a SIGTERM arriving while a fatal error is closing the service does not turn its exit code 1 into 0', async () => {
    const child = spawn(process.execPath, ['--conditions=@shardsync/source', '--import', 'tsx', 'services/consumer/test/fixtures/signal-during-fatal-exit.ts'], {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(1);
  }, 30_000);
});
