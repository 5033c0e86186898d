import type { Logger } from '@shardsync/runtime';

/** The parts of `process` a fatal exit uses. */
export interface ExitingProcess {
  exitCode?: number | string | null | undefined;
  exit(code: number): void;
}

export interface FatalExitOptions {
  logger: Logger;
  /** Closes what keeps the event loop alive (the service), so the process can end by itself. */
  release: () => Promise<void>;
  /** If the process has not ended by itself after this long, it is ended. Default 5000 ms. */
  forceAfterMs?: number;
  /** Default: `process`. */
  process?: ExitingProcess;
}

/**
 * What the consumer does when it can no longer work: log why (once), then end with exit code 1
 * without losing that line or the ones before it.
 *
 * pino's default destination writes asynchronously. A line already handed to `fs.write` that
 * waits for stdout (a congested pipe answers EAGAIN; the write is retried on a timer) is written
 * neither by the synchronous flush `logger.fatal()` does nor by pino's exit hook, and
 * `logger.flush()` does not wait for it: `process.exit(1)` right after logging can end the
 * process without it (the fatal line or the lines just before it). Instead the exit code is set,
 * the service is released (closed without draining) and Node ends the process once the event
 * loop is empty, that is after every pending write completed. If something keeps the loop alive
 * (or stdout stays blocked) the timer ends the process after `forceAfterMs`. Unfinished work is
 * not committed, so the restarted process re-applies it.
 */
export function fatalExit(options: FatalExitOptions): (reason: string, err?: unknown) => void {
  const proc = options.process ?? process;
  let fired = false;
  return (reason, err) => {
    if (fired) return;
    fired = true;
    options.logger.fatal({ err, reason }, 'exiting so that a supervisor restarts the consumer');
    proc.exitCode = 1;
    const force = setTimeout(() => proc.exit(1), options.forceAfterMs ?? 5000);
    // Not a reason to stay alive: when nothing else is left, the process ends by itself.
    force.unref();
    options.release().catch((closeErr: unknown) => options.logger.error({ err: closeErr }, 'closing after a fatal error failed'));
  };
}
