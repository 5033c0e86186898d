import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, Shutdown, type Logger } from '../src/index.js';

/** A logger whose JSON lines are kept, to check what a shutdown reported. */
function recordingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger('shutdown-test', {}, 'info', sink);
  const lines = () =>
    chunks
      .join('')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines };
}

const never = (): Promise<void> => new Promise<void>(() => undefined);

describe('Shutdown.close', () => {
  it('rejects with SHARDSYNC_SHUTDOWN_FAILED naming the failed step, after running the steps after it', async () => {
    const { logger, lines } = recordingLogger();
    const ran: string[] = [];
    const shutdown = new Shutdown(logger);
    shutdown.add('sink', () => Promise.reject(new Error('flush failed')));
    shutdown.add('stores', async () => void ran.push('stores'));

    await expect(shutdown.close()).rejects.toMatchObject({ code: 'SHARDSYNC_SHUTDOWN_FAILED', steps: ['sink'] });
    expect(ran).toEqual(['stores']);
    expect(lines().some((l) => l['msg'] === 'shutdown step failed' && l['step'] === 'sink')).toBe(true);
  });

  it('resolves when every step succeeds, and later calls share the first close', async () => {
    let runs = 0;
    const shutdown = new Shutdown(recordingLogger().logger);
    shutdown.add('only', async () => void (runs += 1));
    await shutdown.close();
    await shutdown.close();
    expect(runs).toBe(1);
  });

  it('cuts a step that never settles after its timeout, logs which one, runs the next and fails the close', async () => {
    const { logger, lines } = recordingLogger();
    const ran: string[] = [];
    const shutdown = new Shutdown(logger, { stepTimeoutMs: 100 });
    shutdown.add('hung client', never);
    shutdown.add('lease', async () => void ran.push('lease'));

    await expect(shutdown.close()).rejects.toMatchObject({ code: 'SHARDSYNC_SHUTDOWN_FAILED', steps: ['hung client'] });
    expect(ran).toEqual(['lease']);
    const timedOut = lines().find((l) => l['step'] === 'hung client');
    expect(timedOut).toMatchObject({ msg: 'shutdown step failed', err: { code: 'SHARDSYNC_SHUTDOWN_STEP_TIMEOUT' } });
  });

  it('gives a step its own timeout instead of the default one', async () => {
    const shutdown = new Shutdown(recordingLogger().logger, { stepTimeoutMs: 50 });
    shutdown.add('drain', () => new Promise<void>((r) => setTimeout(r, 200)), { timeoutMs: 1000 });
    await expect(shutdown.close()).resolves.toBeUndefined();
  });

  it('aborts its signal once a close begins, for a start still under way to give up', () => {
    const shutdown = new Shutdown(recordingLogger().logger);
    expect(shutdown.signal.aborted).toBe(false);
    void shutdown.close();
    expect(shutdown.signal.aborted).toBe(true);
  });
});
