import type { Logger } from 'pino';

export interface ShutdownStep {
  name: string;
  run: () => Promise<void>;
}

/**
 * Runs cleanup steps once, in order, each in its own try/catch so one failing step never
 * skips the others; later calls return the same promise (idempotent close).
 */
export class Shutdown {
  readonly #steps: ShutdownStep[] = [];
  readonly #logger: Logger;
  #closing: Promise<void> | undefined;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Adds a step; steps run in the order they were added. */
  add(name: string, run: () => Promise<void>): void {
    this.#steps.push({ name, run });
  }

  get closing(): boolean {
    return this.#closing !== undefined;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const step of this.#steps) {
        try {
          await step.run();
        } catch (err) {
          this.#logger.error({ err, step: step.name }, 'shutdown step failed');
        }
      }
      // Named by its steps: a service's own shutdown runs inside its process's, and both log this.
      this.#logger.info({ steps: this.#steps.map((s) => s.name) }, 'closed');
    })();
    return this.#closing;
  }

  /**
   * Closes on SIGTERM/SIGINT; exits with `process.exitCode` (0 unless set) when done, or 1 if the grace period runs out first.
   * A second signal exits at once.
   */
  handleSignals(graceMs: number): void {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) {
        this.#logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      signalled = true;
      this.#logger.info({ signal, graceMs }, 'shutting down');
      const timer = setTimeout(() => {
        this.#logger.error({ graceMs }, 'grace period over before shutdown finished: exiting');
        process.exit(1);
      }, graceMs);
      timer.unref();
      // Not exit(0): a fatal error that was already ending the process (the consumer's fatalExit
      // sets exitCode 1 and closes) must not turn into a clean exit its supervisor would not restart.
      void this.close().then(() => process.exit());
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
}
