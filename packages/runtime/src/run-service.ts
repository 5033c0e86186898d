import type { Logger } from 'pino';
import { Shutdown } from './shutdown.js';

/** What a service's process closes on a signal. */
export interface ClosableService {
  close(): Promise<void>;
}

export interface RunServiceOptions<S extends ClosableService> {
  /** The shutdown step's name in the logs. */
  name: string;
  logger: Logger;
  /** SHARDSYNC_SHUTDOWN_GRACE_MS. */
  graceMs: number;
  /**
   * Starts the service. Once `signal` aborts (a stop was requested), it should give up waiting,
   * close what it opened and reject with an error caused by the signal's reason (see {@link untilAborted}).
   */
  start: (signal: AbortSignal) => Promise<S>;
}

/** Whether `err`, or an error in its cause chain, is `reason`: the start ended because of the stop, not by failing. */
function endedBy(err: unknown, reason: unknown): boolean {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 10; depth += 1) {
    if (e === reason) return true;
    e = e instanceof Error ? e.cause : undefined;
  }
  return false;
}

/**
 * Rejects with the signal's reason as soon as it aborts, else settles as `work` does: for a
 * start waiting on something (Kafka answering, a lease) that the stop must not wait for. The
 * work itself goes on; the caller closes what it belongs to.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  // Settled later if at all (the stop won the race): not an unhandled rejection.
  work.catch(() => undefined);
  return Promise.race([work, aborted]).finally(() => {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  });
}

/**
 * Runs a service in this process: SIGTERM/SIGINT are handled before it starts, so that a stop
 * requested while it starts (waiting for Kafka, say) does not kill the process by the signal's
 * default action with what it opened left open. Such a stop aborts the start's signal and,
 * once the start gave up (or finished anyway), closes what it opened; the process exits 0.
 * Resolves with the service once started, or undefined if a stop came first; rejects if the
 * start failed otherwise.
 */
export async function runService<S extends ClosableService>(options: RunServiceOptions<S>): Promise<S | undefined> {
  const shutdown = new Shutdown(options.logger);
  shutdown.handleSignals(options.graceMs);
  const started = options.start(shutdown.signal);
  shutdown.add(options.name, async () => {
    let service: S;
    try {
      service = await started;
    } catch (err) {
      // A start cut by the stop closed what it opened: nothing is left to close.
      if (endedBy(err, shutdown.signal.reason)) return;
      throw err;
    }
    await service.close();
  });
  try {
    return await started;
  } catch (err) {
    if (!endedBy(err, shutdown.signal.reason)) throw err;
    options.logger.info({ service: options.name }, 'stopped before the start finished');
    return undefined;
  }
}
