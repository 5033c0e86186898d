import { decodeShardUpdate } from '@shardsync/events';
import { DLQ_HEADERS, fromDeadLetter, KafkaEventSink, readDeadLetter, type ConsumedEvent } from '@shardsync/eventlog';
import type { CliContext } from '../context.js';
import { describeFilter, identityOf, isFiltered, type DeadLetterFilter, type DeadLetterView } from '../dlq/letters.js';
import { noPendingMatchMessage } from '../dlq/no-match.js';
import { countMatchingLetters, type LetterCounts } from '../dlq/read-letters.js';
import { compilePendingLetterOptions, walkPendingLetters, type PendingLetterOptions } from '../dlq/walk.js';
import { CliError, InterruptedError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import type { CommandResult } from '../output.js';
import { renderFields, renderTable } from '../table.js';
import { formatDuration } from '../units.js';
import { requireDatacenter } from './common.js';

export interface DlqReplayOptions extends PendingLetterOptions {
  /**
   * The consumers' SHARDSYNC_TOMBSTONE_GRACE_MS (default 7 days): a put older than this is not
   * replayed, since a delete of its key since then may have left no tombstone to refuse it.
   */
  readonly tombstoneGraceMs?: number | undefined;
  /** The time to judge the letters' age by. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

/** The consumers' default SHARDSYNC_TOMBSTONE_GRACE_MS. */
export const DEFAULT_TOMBSTONE_GRACE_MS = 7 * 24 * 3600 * 1000;

export interface DlqReplayReport {
  readonly topic: string;
  readonly updatesTopic: string;
  readonly dryRun: boolean;
  readonly filter: DeadLetterFilter;
  /** Letters read (those not replayed or discarded by an earlier run). */
  readonly scanned: number;
  /** Letters sent back (or, in a dry run, that would be). */
  readonly replayed: number;
  /** Letters of an update already sent in this run (the same update, dead-lettered by several datacenters). */
  readonly duplicates: number;
  /** Puts older than the tombstone grace period: not replayed, left pending (see {@link tooOldToReplay}). */
  readonly tooOld: number;
  /**
   * Letters written without the update's value (too large for the dead-letter topic with its
   * headers): not replayed, left pending; the update is still in its original topic until retention.
   */
  readonly valueDropped: number;
  /** The tombstone grace period the letters' age was judged by. */
  readonly tombstoneGraceMs: number;
  /** Letters left for a later replay because they do not match the filter. */
  readonly notMatching: number;
  /** Records without dead-letter headers: never replayed. */
  readonly ignored: number;
  /** True when the replay stopped before the end (too many interleaved letters left behind); run it again. */
  readonly stoppedEarly: boolean;
  /** The letters sent back, at most {@link MAX_LISTED}. */
  readonly letters: readonly DeadLetterView[];
  /**
   * When a filter found no pending letter: every retained letter that matches it, by what became
   * of it (all replayed or discarded before, or none at all). Absent otherwise, or when they could
   * not be counted in time.
   */
  readonly matching?: LetterCounts | undefined;
}

/** Letters listed in a replay report; the counts cover all. */
const MAX_LISTED = 200;

/**
 * Sends dead letters back to the updates topic for another try, each update once, and records the
 * progress in the replay group's committed offsets (see `replay-state.ts`), so running it again
 * sends nothing twice. Progress is committed after each batch has been acknowledged by Kafka: a
 * crash between the two can resend one batch, which the consumers' highest-version rule makes
 * harmless.
 */
export async function dlqReplay(ctx: CliContext, options: DlqReplayOptions = {}): Promise<CommandResult<DlqReplayReport>> {
  if (options.datacenter !== undefined) requireDatacenter(ctx.topology, options.datacenter);
  const walk = compilePendingLetterOptions(options);
  const { filter, dryRun } = walk;
  const updatesTopic = ctx.topology.kafka.topics.updates;
  const sent = new Set<string>();
  const letters: DeadLetterView[] = [];
  const sink = dryRun ? undefined : new KafkaEventSink(ctx.kafka());
  const tombstoneGraceMs = options.tombstoneGraceMs ?? DEFAULT_TOMBSTONE_GRACE_MS;
  const nowMs = (options.now ?? Date.now)();
  let valueDropped = 0;

  try {
    const outcome = await walkPendingLetters(ctx, walk, {
      activity: 'replaying dead letters',
      policy: {
        decide: (letter) => {
          // Sent as it is, it would be an empty record that every consumer dead-letters again as undecodable.
          if (isValueDropped(letter.event)) return 'leave';
          if (tooOldToReplay(letter.event, nowMs, tombstoneGraceMs)) return 'leave';
          return sent.has(identityOf(letter.view)) ? 'skip-duplicate' : 'take';
        },
        recorded: (letter, decision) => {
          if (decision === 'leave' && isValueDropped(letter.event)) valueDropped++;
          if (decision !== 'take') return;
          sent.add(identityOf(letter.view));
          if (letters.length < MAX_LISTED) letters.push({ ...letter.view, replayed: true });
        },
      },
      // Sent before the batch's progress is committed: a crash between the two resends, never skips.
      beforeCommit: async (taken) => {
        if (sink !== undefined && taken.length > 0) await sink.append(updatesTopic, taken.map((l) => fromDeadLetter(l.event)));
      },
    });
    if (outcome.interrupted) {
      const done = dryRun ? 'nothing was sent or recorded' : `what was replayed until then is recorded (${outcome.counts.decisions.take} letter(s) in this run)`;
      throw new InterruptedError(`the replay was interrupted; ${done}`, 'run dlq replay again to continue');
    }
    if (!outcome.complete) {
      throw new CliError('SHARDSYNC_CLI_TIMEOUT', `the replay did not finish within ${Math.round(walk.timeoutMs / 1000)} s; what was replayed so far is recorded`, {
        retriable: true,
        hint: 'run dlq replay again to continue',
      });
    }
    const { scanned, ignored, notMatching, decisions } = outcome.counts;
    const noneMatched = isFiltered(filter) && decisions.take + decisions['skip-duplicate'] + decisions.leave === 0;
    const matching = noneMatched ? await countMatchingLetters(ctx, filter) : undefined;
    const report: DlqReplayReport = {
      topic: outcome.topic,
      updatesTopic,
      dryRun,
      filter,
      scanned,
      replayed: decisions.take,
      duplicates: decisions['skip-duplicate'],
      tooOld: decisions.leave - valueDropped,
      valueDropped,
      tombstoneGraceMs,
      notMatching,
      ignored,
      stoppedEarly: outcome.stoppedEarly,
      letters,
      ...(matching === undefined ? {} : { matching }),
    };
    return { data: report, text: renderDlqReplay(report), exitCode: ExitCode.ok };
  } finally {
    await sink?.close();
  }
}

/**
 * A put whose version is older than the tombstone grace period: a delete of its key after it may
 * have been applied and its tombstone expired since, so nothing would stop the put from bringing
 * the key back (and the reconciler from copying it everywhere). Deletes are replayed whatever
 * their age: a delete cannot resurrect anything.
 *
 * A letter this CLI cannot decode may still be one the consumers can (a newer producer's schema,
 * the consumers upgraded since: `SHARDSYNC_UNKNOWN_SCHEMA`), so its operation and version are
 * unknown here. It was dead-lettered after it was versioned, though: one dead-lettered longer
 * than the grace period ago holds an update older still, maybe such a put, and is not replayed.
 */
export function tooOldToReplay(event: ConsumedEvent, nowMs: number, tombstoneGraceMs: number): boolean {
  let update;
  try {
    update = decodeShardUpdate(event.value, event.headers);
  } catch {
    const atMs = readDeadLetter(event.headers)?.atMs ?? 0;
    return atMs > 0 && nowMs - atMs > tombstoneGraceMs;
  }
  return update.operation === 'PUT' && nowMs - update.version.physicalMs > tombstoneGraceMs;
}

/** A letter the consumer wrote without the update's value, since Kafka refused it for its size (`withoutValue`). */
function isValueDropped(event: ConsumedEvent): boolean {
  return event.headers[DLQ_HEADERS.valueDropped] !== undefined;
}

export function renderDlqReplay(report: DlqReplayReport): string {
  const verb = report.dryRun ? 'would replay' : 'replayed';
  const filter = describeFilter(report.filter);
  const fields: Array<[string, string]> = [
    ['dead letters', `${report.topic}${filter === '' ? '' : ` (only ${filter})`}`],
    ['read', String(report.scanned)],
    [verb, `${report.replayed} to ${report.updatesTopic}`],
    ['same update, sent once', String(report.duplicates)],
    ['left for later (filter)', String(report.notMatching)],
    ['not dead letters, ignored', String(report.ignored)],
  ];
  const lines = [renderFields(fields)];
  if (report.tooOld > 0) {
    lines.push(
      '',
      `warning: ${report.tooOld} put(s) older than the tombstone grace period (${formatDuration(report.tombstoneGraceMs)}) were not replayed: a delete of their key since may have expired, and the put would bring the key back. They stay pending (shardsync dlq list); write the objects again through the producer if they should exist, then discard the letters (shardsync dlq discard).`,
    );
  }
  if (report.valueDropped > 0) {
    lines.push(
      '',
      `warning: ${report.valueDropped} letter(s) were written without their update (too large for the dead-letter topic with its headers) and were not replayed. They stay pending (shardsync dlq list; ORIGINAL names where the update is, until the topic's retention); have the producer send the update again if it should be applied, then discard the letters (shardsync dlq discard).`,
    );
  }
  if (filter !== '' && report.replayed === 0 && report.duplicates === 0 && report.tooOld === 0 && report.valueDropped === 0) {
    lines.push('', noPendingMatchMessage(report.filter, report.matching));
  }
  if (report.letters.length > 0) {
    lines.push(
      '',
      renderTable(
        [{ header: 'LETTER' }, { header: 'DATACENTER' }, { header: 'CODE' }, { header: 'KEY' }],
        report.letters.map((l) => [`${l.partition}/${l.offset}`, l.deadLetter?.datacenter ?? '', l.deadLetter?.code ?? '', l.key]),
      ),
    );
    if (report.replayed > report.letters.length) lines.push(`(and ${report.replayed - report.letters.length} more)`);
  }
  if (report.stoppedEarly) {
    lines.push('', 'stopped early: too many letters left behind by the filter between replayed ones; run the replay again, or without filters');
  }
  if (report.dryRun) lines.push('', 'dry run: nothing was sent or recorded');
  return lines.join('\n');
}
