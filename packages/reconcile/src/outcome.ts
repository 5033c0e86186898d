import { addCounts } from './counting.js';
import type { CopyOutcome, KeyOutcome } from './model.js';

/** True when some copy of the key failed with an error that a later attempt may not hit. */
export function hasRetriableFailure(outcome: KeyOutcome): boolean {
  return Object.values(outcome.copies).some((c) => c.result === 'failed' && c.failure?.retriable === true);
}

/**
 * Folds a later attempt at a key (a repair job retried with backoff) into the pass's first
 * outcome. What the pass found stays as found; for each copy that had failed, the retry's result
 * counts, and a copy the retry found already equal counts as `superseded` (something else, usually
 * the consumer, settled it meanwhile). Bytes and requests add up.
 */
export function mergeRetriedOutcome(first: KeyOutcome, retry: KeyOutcome): KeyOutcome {
  const copies: Record<string, CopyOutcome> = {};
  for (const [dc, copy] of Object.entries(first.copies)) {
    const later = retry.copies[dc];
    if (copy.result !== 'failed' || later === undefined) copies[dc] = copy;
    else if (later.status === 'equal' && later.result === undefined) copies[dc] = { status: copy.status, action: copy.action, result: 'superseded' };
    else copies[dc] = { status: copy.status, action: later.action ?? copy.action, result: later.result, failure: later.failure };
  }
  return {
    key: first.key,
    winner: retry.winner ?? first.winner,
    copies,
    bytesMoved: first.bytesMoved + retry.bytesMoved,
    requests: addCounts({ ...first.requests }, retry.requests),
  };
}
