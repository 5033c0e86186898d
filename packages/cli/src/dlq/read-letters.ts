import type { CliContext } from '../context.js';
import { InterruptedError } from '../errors.js';
import { readRanges, type ReadOutcome } from '../kafka/topic-reader.js';
import { matchesFilter, viewOf, type DeadLetterFilter, type DeadLetterView } from './letters.js';
import { loadPartitionsForCommand, type DeadLetterPartition } from './load.js';
import { letterState } from './replay-state.js';

/** Letters counted by what became of them. */
export interface LetterCounts {
  letters: number;
  /** Neither replayed nor discarded yet. */
  pending: number;
  replayed: number;
  discarded: number;
}

export function emptyLetterCounts(): LetterCounts {
  return { letters: 0, pending: 0, replayed: 0, discarded: 0 };
}

/** Adds one letter to `counts`, by its state. */
export function countLetter(counts: LetterCounts, view: DeadLetterView): void {
  counts.letters++;
  if (view.discarded) counts.discarded++;
  else if (view.replayed) counts.replayed++;
  else counts.pending++;
}

export interface ReadLettersOptions {
  readonly progressLabel: string;
  readonly timeoutMs: number;
  /** Each retained record, in offset order per partition, with what became of it; return `false` to stop reading. */
  readonly onLetter: (view: DeadLetterView) => boolean;
}

/**
 * Reads every retained record of the dead-letter topic (all of `partitions`) from the beginning,
 * with a throw-away group that commits nothing. Not complete when the time ran out first; throws
 * {@link InterruptedError} when the operator interrupted it.
 */
export async function readLetters(ctx: CliContext, topic: string, partitions: readonly DeadLetterPartition[], options: ReadLettersOptions): Promise<ReadOutcome> {
  const total = partitions.reduce((sum, p) => sum + Number(p.high - p.low), 0);
  if (total === 0) return { complete: true };
  const states = new Map(partitions.map((p) => [p.partition, p.state]));
  let seen = 0;
  const outcome = await readRanges(ctx.kafka(), {
    topic,
    ranges: partitions.map((p) => ({ partition: p.partition, from: p.low, to: p.high })),
    timeoutMs: options.timeoutMs,
    signal: ctx.signal,
    onEvents: (partition, events, session) => {
      const state = states.get(partition);
      for (const event of events) {
        seen++;
        if (!options.onLetter(viewOf(event, state === undefined ? 'pending' : letterState(state, BigInt(event.offset))))) {
          session.stop();
          return;
        }
      }
      ctx.progress.update(options.progressLabel, seen, total);
    },
  });
  ctx.progress.stop();
  if (outcome.interrupted === true) throw new InterruptedError(`reading ${topic} was interrupted`);
  return outcome;
}

/**
 * The retained letters that match `filter`, by what became of them, or undefined when reading
 * them did not finish in time. For a replay or discard that found nothing pending to act on:
 * whether the filter matches nothing at all, or only letters handled before.
 */
export async function countMatchingLetters(ctx: CliContext, filter: DeadLetterFilter, timeoutMs = 60_000): Promise<LetterCounts | undefined> {
  const topic = ctx.topology.kafka.topics.deadLetters;
  const partitions = await loadPartitionsForCommand(ctx, topic);
  const counts = emptyLetterCounts();
  const { complete } = await readLetters(ctx, topic, partitions, {
    progressLabel: 'counting matching dead letters',
    timeoutMs,
    onLetter: (view) => {
      if (matchesFilter(view.deadLetter, filter)) countLetter(counts, view);
      return true;
    },
  });
  return complete ? counts : undefined;
}
