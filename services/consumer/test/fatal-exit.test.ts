import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '@shardsync/runtime';
import { fatalExit, type ExitingProcess } from '../src/fatal-exit.js';

function setup(release: () => Promise<void> = async () => undefined) {
  const logger = createLogger('test', {}, 'silent');
  const fatal = vi.spyOn(logger, 'fatal');
  const exits: number[] = [];
  const proc: ExitingProcess = { exitCode: undefined, exit: (code) => void exits.push(code) };
  const releases = vi.fn(release);
  const onFatal = fatalExit({ logger, release: releases, process: proc, forceAfterMs: 5000 });
  return { fatal, exits, proc, releases, onFatal };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('fatalExit', () => {
  it('logs the fatal line, then lets the process end by itself with exit code 1 rather than cutting its pending writes short', () => {
    vi.useFakeTimers();
    const { fatal, exits, proc, releases, onFatal } = setup();
    onFatal('the Kafka consumer crashed and will not restart', new Error('boom'));
    expect(fatal).toHaveBeenCalledWith(expect.objectContaining({ reason: 'the Kafka consumer crashed and will not restart' }), 'exiting so that a supervisor restarts the consumer');
    expect(proc.exitCode).toBe(1);
    expect(releases).toHaveBeenCalledTimes(1);
    // No process.exit() right after the log line: the write it started may still be pending.
    expect(exits).toEqual([]);
  });

  it('ends the process with 1 after the bound if something keeps it alive', async () => {
    vi.useFakeTimers();
    const { exits, onFatal } = setup(() => new Promise<void>(() => undefined));
    onFatal('watchdog: consumer stalled');
    await vi.advanceTimersByTimeAsync(4999);
    expect(exits).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(exits).toEqual([1]);
  });

  it('a second fatal report (the watchdog fires on every check) is neither logged nor handled again', () => {
    vi.useFakeTimers();
    const { fatal, releases, onFatal } = setup();
    onFatal('watchdog: consumer stalled');
    onFatal('watchdog: consumer stalled');
    expect(fatal).toHaveBeenCalledTimes(1);
    expect(releases).toHaveBeenCalledTimes(1);
  });
});
