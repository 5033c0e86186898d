import type { Logger } from 'pino';

export interface ShutdownStep {
  name: string;
  run: () => Promise<void>;
  /** Longest the step may take; undefined: unbounded. */
  timeoutMs?: number | undefined;
}

export interface ShutdownOptions {
  /** Longest a step may take unless it names its own bound: a step that hangs must not keep the later ones from running. Default unbounded. */
  stepTimeoutMs?: number;
}

export interface HandleSignalsOptions {
  /** A signal within this long of the first is taken as the same request and ignored. Default {@link REPEAT_SIGNAL_WINDOW_MS}. */
  repeatWindowMs?: number;
}

/**
 * How long after the first signal a second one is still taken as the same request. A Ctrl-C in a
 * terminal under `npm start` reaches the service twice within milliseconds (the terminal signals
 * the whole process group, and npm forwards its own copy); a person asking again to stop now
 * takes longer than this.
 */
export const REPEAT_SIGNAL_WINDOW_MS = 1500;

/** Stable codes of the shutdown's errors, for logs and scripts to match on. */
export type ShutdownErrorCode = 'SHARDSYNC_SHUTDOWN_FAILED' | 'SHARDSYNC_SHUTDOWN_STEP_TIMEOUT';

/** A close where at least one step failed or timed out; every step was still run. */
export class ShutdownError extends Error {
  readonly code: ShutdownErrorCode = 'SHARDSYNC_SHUTDOWN_FAILED';
  /** The process is stopping: nothing to try again. */
  readonly retriable = false;
  /** The steps that failed, in the order they ran. */
  readonly steps: readonly string[];

  constructor(failures: readonly { step: string; err: unknown }[]) {
    super(`shutdown steps failed: ${failures.map((f) => f.step).join(', ')}`, { cause: new AggregateError(failures.map((f) => f.err)) });
    this.name = 'ShutdownError';
    this.steps = failures.map((f) => f.step);
  }
}

/** A step still running when its bound ran out; it is left running, and the next step starts. */
export class ShutdownStepTimeoutError extends Error {
  readonly code: ShutdownErrorCode = 'SHARDSYNC_SHUTDOWN_STEP_TIMEOUT';
  readonly retriable = false;
  readonly step: string;
  readonly timeoutMs: number;

  constructor(step: string, timeoutMs: number) {
    super(`shutdown step "${step}" did not finish within ${timeoutMs} ms`);
    this.name = 'ShutdownStepTimeoutError';
    this.step = step;
    this.timeoutMs = timeoutMs;
  }
}

/** Runs a step, rejecting with {@link ShutdownStepTimeoutError} if it takes longer than its bound. */
async function runBounded(step: ShutdownStep): Promise<void> {
  const { timeoutMs } = step;
  if (timeoutMs === undefined) return step.run();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ShutdownStepTimeoutError(step.name, timeoutMs)), timeoutMs);
  });
  try {
    await Promise.race([step.run(), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The code to exit with after a failure: the one already set if it is non-zero (the first
 * failure's, e.g. the consumer's fatal exit), else 1.
 */
function failureExitCode(): number {
  const current = Number(process.exitCode ?? 0);
  return Number.isInteger(current) && current !== 0 ? current : 1;
}

/**
 * Runs cleanup steps once, in order, each in its own try/catch (and within its bound, if any) so
 * one failing or hung step never skips the others; later calls return the same promise
 * (idempotent close). The close rejects with {@link ShutdownError} if any step failed, so that a
 * service whose own close is a Shutdown reports its failed steps to the process's.
 */
export class Shutdown {
  readonly #steps: ShutdownStep[] = [];
  readonly #logger: Logger;
  readonly #stepTimeoutMs: number | undefined;
  readonly #stopping = new AbortController();
  #closing: Promise<void> | undefined;

  constructor(logger: Logger, options: ShutdownOptions = {}) {
    this.#logger = logger;
    this.#stepTimeoutMs = options.stepTimeoutMs;
  }

  /** Adds a step; steps run in the order they were added. `timeoutMs` replaces the default bound for this step. */
  add(name: string, run: () => Promise<void>, options: { timeoutMs?: number } = {}): void {
    this.#steps.push({ name, run, timeoutMs: options.timeoutMs ?? this.#stepTimeoutMs });
  }

  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /** Aborted once the close begins: what is still starting gives up (see `runService`). */
  get signal(): AbortSignal {
    return this.#stopping.signal;
  }

  close(): Promise<void> {
    this.#closing ??= this.#runSteps();
    return this.#closing;
  }

  async #runSteps(): Promise<void> {
    this.#stopping.abort(new Error('shutting down'));
    const failures: { step: string; err: unknown }[] = [];
    for (const step of this.#steps) {
      try {
        await runBounded(step);
      } catch (err) {
        this.#logger.error({ err, step: step.name }, 'shutdown step failed');
        failures.push({ step: step.name, err });
      }
    }
    // Named by its steps: a service's own shutdown runs inside its process's, and both log this.
    this.#logger.info({ steps: this.#steps.map((s) => s.name), failed: failures.map((f) => f.step) }, 'closed');
    if (failures.length > 0) throw new ShutdownError(failures);
  }

  /**
   * Closes on SIGTERM/SIGINT; exits 0 when done, or non-zero (the code a failure set before, else 1)
   * if a step failed or the grace period runs out first. A signal repeated within the repeat
   * window is ignored (one Ctrl-C under npm arrives twice); one after it exits at once.
   */
  handleSignals(graceMs: number, options: HandleSignalsOptions = {}): void {
    const repeatWindowMs = options.repeatWindowMs ?? REPEAT_SIGNAL_WINDOW_MS;
    let firstAt: number | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (firstAt !== undefined) {
        this.#onRepeat(signal, Date.now() - firstAt, repeatWindowMs);
        return;
      }
      firstAt = Date.now();
      this.#logger.info({ signal, graceMs }, 'shutting down');
      // Not unref'd: a close stuck on a promise nothing will settle leaves the event loop empty,
      // and Node would then end the process with code 0 before the grace period, as if it were done.
      setTimeout(() => {
        this.#logger.error({ graceMs }, 'grace period over before shutdown finished: exiting');
        process.exit(failureExitCode());
      }, graceMs);
      // process.exit() keeps the code a failure set before (the consumer's fatal exit sets 1 and closes):
      // exit(0) would report that failure as a clean stop, and the supervisor would not restart.
      // A failed step (already logged) exits non-zero for the same reason.
      this.close().then(
        () => process.exit(),
        () => process.exit(failureExitCode()),
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }

  #onRepeat(signal: NodeJS.Signals, sinceFirstMs: number, repeatWindowMs: number): void {
    if (sinceFirstMs < repeatWindowMs) {
      this.#logger.info({ signal, sinceFirstMs }, 'signal repeated right after the first: ignored, the stop goes on');
      return;
    }
    this.#logger.warn({ signal, sinceFirstMs }, 'signal received again while stopping: exiting now, without finishing the shutdown');
    process.exit(failureExitCode());
  }
}

/** Per-step bounds of a service's close, from its grace period. */
export interface CloseStepBounds {
  /** For the step that waits for in-flight work, which the service cuts short halfway through the grace period. */
  drainMs: number;
  /** For every other step. */
  stepMs: number;
}

/**
 * The step that drains gets three quarters of the grace period (half until the service cuts the
 * work short, a quarter for the cut work to end), every other step a quarter: a step that hangs
 * (a disconnect nothing answers) is given up in time for the steps after it to run before the
 * process is ended at the end of the grace period.
 */
export function closeStepBounds(graceMs: number): CloseStepBounds {
  return { drainMs: Math.floor((graceMs * 3) / 4), stepMs: Math.floor(graceMs / 4) };
}

export interface CloseServiceOptions {
  logger: Logger;
  /** SHARDSYNC_SHUTDOWN_GRACE_MS. */
  graceMs: number;
  /** Cuts the work still in flight short (aborts bodies, retries, jobs): called halfway through the grace period if the close is not done by then. */
  cutInFlight: () => void;
  /** Adds the close's steps in order; the one that waits for in-flight work takes `bounds.drainMs` as its timeout. */
  addSteps: (steps: Shutdown, bounds: CloseStepBounds) => void;
}

/**
 * A service's close: its steps run with the bounds of {@link closeStepBounds}, and in-flight work
 * still running halfway through the grace period is cut short, leaving the second half for what
 * the cut work must still do (abort uploads, requeue jobs) and for the other steps. Rejects with
 * {@link ShutdownError} if a step failed.
 */
export async function closeService(options: CloseServiceOptions): Promise<void> {
  const cut = setTimeout(options.cutInFlight, options.graceMs / 2);
  // Not a reason to stay alive: a process whose close is done can end before the timer.
  cut.unref();
  const bounds = closeStepBounds(options.graceMs);
  const steps = new Shutdown(options.logger, { stepTimeoutMs: bounds.stepMs });
  options.addSteps(steps, bounds);
  try {
    await steps.close();
  } finally {
    clearTimeout(cut);
  }
}
