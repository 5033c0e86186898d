export interface RetryOptions {
  /** First delay in ms. Default 100. */
  initialDelayMs?: number;
  /** Upper bound of one delay in ms. Default 10000. */
  maxDelayMs?: number;
  /** Attempts in all (the first included); Infinity retries until aborted. Default 5. */
  maxAttempts?: number;
  /** Whether an error is worth another attempt. Default: its `retriable` flag. */
  isRetriable?: (err: unknown) => boolean;
  /** Called before each wait, e.g. to log and count. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
  /** Random source in [0, 1); injectable for tests. */
  random?: () => number;
}

export function isRetriable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { retriable?: unknown }).retriable === true;
}

/** "Full jitter" exponential backoff: spreads retries of many clients over the whole window. */
export function backoffDelay(attempt: number, initialDelayMs: number, maxDelayMs: number, random: () => number): number {
  // The exponent stops at 1023: 2 ** 1024 is Infinity, and 0 ms * Infinity would be NaN.
  const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(1023, Math.max(0, attempt - 1)));
  return Math.floor(random() * ceiling);
}

/** Why a wait ended by `signal`: its reason when that is an error, else an error naming it (what `sleep` rejects with). */
export function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error(`aborted: ${String(reason)}`);
}

/** The longest delay one timer holds: Node fires a longer one after 1 ms (TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(abortReason(signal));
      return;
    }
    // A longer wait is a chain of timers, each at most MAX_TIMER_MS.
    let remaining = ms;
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      const step = Math.min(remaining, MAX_TIMER_MS);
      remaining -= step;
      timer = setTimeout(() => {
        if (remaining > 0) {
          arm();
          return;
        }
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, step);
    };
    arm();
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `fn` until it succeeds, an error is not retriable, attempts run out or the signal
 * aborts; waits with full-jitter exponential backoff in between. Throws the last error.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const initial = options.initialDelayMs ?? 100;
  const max = options.maxDelayMs ?? 10_000;
  const attempts = options.maxAttempts ?? 5;
  const retriable = options.isRetriable ?? isRetriable;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= attempts || !retriable(err) || options.signal?.aborted === true) throw err;
      const delay = backoffDelay(attempt, initial, max, random);
      options.onRetry?.(err, attempt, delay);
      await sleep(delay, options.signal);
    }
  }
}
