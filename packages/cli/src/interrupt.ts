import { untilAborted } from '@shardsync/runtime';
import type { InterruptedError } from './errors.js';

/**
 * Settles as `work()` does, or rejects with `interruption()` as soon as `signal` aborts (at once
 * if it already has, without starting the work).
 *
 * Why: some waits cannot be cancelled from outside (kafkajs connects and retries on a broker that
 * accepts connections and never answers, requests with timeouts of their own), so a command made
 * of them would sit out every timeout after Ctrl-C. The work left running stops when the command's
 * clients are closed, which the program does right after. Only for commands whose partial work
 * needs no report beyond the interruption's message.
 */
export async function untilInterrupted<T>(signal: AbortSignal | undefined, work: () => Promise<T>, interruption: () => InterruptedError): Promise<T> {
  if (signal === undefined) return work();
  if (signal.aborted) throw interruption();
  try {
    return await untilAborted(work(), signal);
  } catch (err) {
    // The race lost to the operator's signal, not a failure of the work: say so as every command does.
    if (signal.aborted && err === signal.reason) throw interruption();
    throw err;
  }
}

/** A signal that aborts after `ms`, or earlier with `signal` (the operator's interruption). */
export function withTimeout(signal: AbortSignal | undefined, ms: number): AbortSignal {
  const timeout = AbortSignal.timeout(ms);
  return signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
}
