/**
 * The watchdog checks at most this often, so it is also the shortest stall it can tell: a
 * shorter allowance would find a consumer busy applying idle at nearly every check.
 */
export const MIN_STALL_MS = 1000;

export interface WatchdogOptions {
  /** No progress for this long while work waits means stalled. */
  stallMs: number;
  /** Events waiting (consumer lag); progress is only expected when this is above zero. */
  pending: () => Promise<number>;
  onStall: (idleMs: number, pending: number) => void;
  /** Called when progress ends a stall (e.g. to reset a gauge `onStall` set). */
  onRecover?: () => void;
  /** Check interval. Default stallMs / 5. */
  intervalMs?: number;
  now?: () => number;
}

/**
 * Notices a consumer that silently stopped making progress while lag grows (a hung request,
 * a handler stuck in a loop, a client that stopped fetching): heartbeats alone would hide it,
 * because kafkajs keeps the session alive while the handler hangs.
 */
export class Watchdog {
  readonly #o: WatchdogOptions;
  #lastProgress: number;
  #timer: NodeJS.Timeout | undefined;
  #stalled = false;
  #stopped = false;

  constructor(options: WatchdogOptions) {
    this.#o = options;
    this.#lastProgress = this.#now();
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  progress(): void {
    this.#lastProgress = this.#now();
    if (!this.#stalled) return;
    this.#stalled = false;
    this.#o.onRecover?.();
  }

  get stalled(): boolean {
    return this.#stalled;
  }

  /** One check; exposed for tests. */
  async check(): Promise<void> {
    const since = this.#lastProgress;
    const idle = this.#now() - since;
    if (idle < this.#o.stallMs) return;
    const pending = await this.#o.pending().catch(() => undefined);
    // Reading the lag can take seconds (retried while the coordinator moves): progress made
    // meanwhile, or a stop (the service draining on SIGTERM), ends this check's verdict.
    if (this.#lastProgress !== since || this.#stopped) return;
    if (pending === undefined) {
      // The lag could not be read: no verdict either way; the clock restarts.
      this.#lastProgress = this.#now();
    } else if (pending > 0) {
      this.#stalled = true;
      this.#o.onStall(idle, pending);
    } else {
      // Nothing to do is not a stall: restart the clock, and end a stall seen before (its events
      // went to another member, or retention removed them), else /healthz stays 503 for good.
      this.progress();
    }
  }

  start(): void {
    // The service builds its watchdog before it creates topics and joins its group, which can take
    // minutes (a join waits for the other members' batches): that is no time it could progress in.
    this.#lastProgress = this.#now();
    this.#stopped = false;
    this.#timer = setInterval(() => void this.check(), this.#o.intervalMs ?? Math.max(MIN_STALL_MS, this.#o.stallMs / 5));
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
