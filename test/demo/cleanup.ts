/**
 * Cleanup steps run once, last added first, each in its own try/catch so a failing step never
 * skips the others. `run()` is idempotent: a second Ctrl-C waits for the same cleanup.
 */
export class Cleanup {
  readonly #steps: Array<{ name: string; run: () => Promise<void> }> = [];
  #running: Promise<string[]> | undefined;

  add(name: string, run: () => Promise<void>): void {
    this.#steps.push({ name, run });
  }

  /** Runs every step; resolves with the failures (empty when all went well). */
  run(): Promise<string[]> {
    this.#running ??= (async () => {
      const failures: string[] = [];
      for (const step of [...this.#steps].reverse()) {
        try {
          await step.run();
        } catch (err) {
          failures.push(`${step.name}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      return failures;
    })();
    return this.#running;
  }
}
