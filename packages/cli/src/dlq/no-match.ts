import { shellToken } from '../shell.js';
import { describeFilter, type DeadLetterFilter } from './letters.js';
import type { LetterCounts } from './read-letters.js';

/** The options that select a filter's letters, e.g. `--datacenter dc-b --code SHARDSYNC_X`, ready to paste into a shell. */
export function filterFlags(filter: DeadLetterFilter): string {
  return [filter.datacenter === undefined ? undefined : `--datacenter ${shellToken(filter.datacenter)}`, filter.code === undefined ? undefined : `--code ${shellToken(filter.code)}`]
    .filter((s) => s !== undefined)
    .join(' ');
}

/**
 * What a filtered `dlq replay` or `dlq discard` that found no pending letter to act on says. Run
 * twice, the second run finds none: that is not a misspelt filter, so the spelling hint is only
 * for a filter that matches no retained letter at all. `matching` is undefined when the letters
 * could not be counted in time.
 */
export function noPendingMatchMessage(filter: DeadLetterFilter, matching: LetterCounts | undefined): string {
  const described = describeFilter(filter);
  const list = `shardsync dlq list ${filterFlags(filter)}`;
  if (matching === undefined) return `warning: no pending dead letter matched ${described}; see the letters that match with: ${list}`;
  if (matching.letters === 0) return `warning: no dead letter matched ${described}; check the spelling with: shardsync dlq list`;
  if (matching.pending === 0) {
    return `nothing to do: ${matching.letters} dead letter(s) match ${described}, all already replayed (${matching.replayed}) or discarded (${matching.discarded}); see them with: ${list}`;
  }
  // Letters written or left pending by another run while this one read.
  return `warning: this run handled none of the ${matching.letters} dead letter(s) that match ${described}, though ${matching.pending} are pending now; run it again, or see them with: ${list}`;
}
