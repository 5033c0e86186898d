import { abortError } from './errors.js';
import type { RetryOptions } from './options.js';

/**
 * "Full jitter" exponential backoff: a random delay below min(maxDelayMs, initialDelayMs·2^(attempt-1)),
 * which spreads the retries of many clients over the whole window instead of synchronising them.
 */
export function backoffDelayMs(attempt: number, policy: Required<RetryOptions>, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/** A `Retry-After` header (delay in seconds, or an HTTP date) in ms; undefined when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, nowMs = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** The wait before the next attempt: the backoff, or longer if the server asked, never above maxDelayMs. */
export function nextDelayMs(attempt: number, policy: Required<RetryOptions>, serverAskedMs: number | undefined, random: () => number = Math.random): number {
  return Math.min(policy.maxDelayMs, Math.max(backoffDelayMs(attempt, policy, random), serverAskedMs ?? 0));
}

/**
 * Resolves after `ms`, or rejects with the abort error of the first of `signals` that aborts.
 * Listens to each directly rather than to `AbortSignal.any(signals)`: on Node 20 every signal
 * `any` makes stays referenced from its sources (a WeakRef in a set that is never pruned), so a
 * long-lived source (the client's close signal, a caller's shutdown signal) would grow with
 * every call.
 */
export function sleep(ms: number, signals: readonly AbortSignal[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const aborted = signals.find((s) => s.aborted);
    if (aborted !== undefined) {
      reject(abortError(aborted));
      return;
    }
    const stop = () => {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener('abort', onAbort);
    };
    const onAbort = (event: Event) => {
      stop();
      reject(abortError(event.target as AbortSignal));
    };
    const timer = setTimeout(() => {
      stop();
      resolve();
    }, ms);
    for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
  });
}
