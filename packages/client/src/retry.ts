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

/** Resolves after `ms`, or rejects with the call's abort error as soon as the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
