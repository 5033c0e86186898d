import type { CliContext } from '../context.js';
import { renderLetterTable } from '../dlq/letter-table.js';
import { describeFilter, isFiltered, type DeadLetterFilter, type DeadLetterView } from '../dlq/letters.js';
import { filterFlags, noPendingMatchMessage } from '../dlq/no-match.js';
import { formatPositions } from '../dlq/positions.js';
import { countMatchingLetters, type LetterCounts } from '../dlq/read-letters.js';
import { compilePendingLetterOptions, walkPendingLetters, type PendingLetterOptions } from '../dlq/walk.js';
import { CliError, InterruptedError, UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import type { CommandResult } from '../output.js';
import { renderFields } from '../table.js';
import { requireDatacenter } from './common.js';

export interface DlqDiscardOptions extends PendingLetterOptions {
  /** Every pending letter, when no filter narrows the selection. Required then, so a forgotten filter discards nothing. Default false. */
  readonly all?: boolean | undefined;
  /** The operator's confirmation; without it (and without `dryRun`) nothing is read or recorded. Default false. */
  readonly yes?: boolean | undefined;
}

export interface DlqDiscardReport {
  readonly topic: string;
  /** When the discard finished (ISO 8601), for the operator's record. */
  readonly finishedAt: string;
  readonly dryRun: boolean;
  readonly filter: DeadLetterFilter;
  /**
   * Where the run stopped reading, as `--through` takes it (`partition:offset,...`; '' when it read
   * nothing): a dry run's value, given to the confirmed run, limits that run to the letters the dry
   * run showed, so letters arriving in between are not discarded unseen.
   */
  readonly through: string;
  /** Letters read (those not replayed or discarded by an earlier run). */
  readonly scanned: number;
  /** Letters discarded (or, in a dry run, that would be). */
  readonly discarded: number;
  /** Letters left pending because they do not match the filter. */
  readonly notMatching: number;
  /** Records without dead-letter headers: never replayable, settled without being counted as discarded. */
  readonly ignored: number;
  /** True when the discard stopped before the end (the record of handled letters is full); see the text. */
  readonly stoppedEarly: boolean;
  /** Every letter discarded, in full: this is the record of what was given up. */
  readonly letters: readonly DeadLetterView[];
  /**
   * When a filter found no pending letter: every retained letter that matches it, by what became
   * of it. Absent otherwise, or when they could not be counted in time.
   */
  readonly matching?: LetterCounts | undefined;
}

/**
 * Gives up dead letters that must never be replayed (undecodable records, payloads corrupt in
 * every datacenter), so `status` stops counting them and `dlq replay` never sends them. Nothing is
 * deleted: the letters stay in the topic until its retention removes them, `dlq list` shows them
 * as discarded, and the report lists every one. What was discarded is recorded with the replay
 * progress (see `replay-state.ts`), committed after each batch, so an interrupted discard resumes.
 */
export async function dlqDiscard(ctx: CliContext, options: DlqDiscardOptions = {}): Promise<CommandResult<DlqDiscardReport>> {
  const walk = compilePendingLetterOptions(options);
  const { filter, dryRun } = walk;
  if (isFiltered(filter) && options.all === true) throw new UsageError('--all discards every pending letter; it cannot be combined with --datacenter or --code');
  if (!isFiltered(filter) && options.all !== true) {
    throw new UsageError('choose the letters to discard with --code and/or --datacenter, or --all for every pending letter', 'see them first with: shardsync dlq list');
  }
  if (!dryRun && options.yes !== true) {
    throw new UsageError('discarding dead letters cannot be undone by shardsync: the discarded updates are never replayed; add --yes to confirm', 'see what it would discard with the same command and --dry-run instead of --yes');
  }
  if (options.datacenter !== undefined) requireDatacenter(ctx.topology, options.datacenter);

  const letters: DeadLetterView[] = [];
  const outcome = await walkPendingLetters(ctx, walk, {
    activity: 'discarding dead letters',
    policy: {
      decide: () => 'discard',
      recorded: (letter) => letters.push({ ...letter.view, discarded: true }),
    },
  });
  letters.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  if (!outcome.complete) {
    // The letters discarded so far are recorded; say which, since the report is not printed.
    const done = letters.map((l) => `${l.partition}/${l.offset}`).join(', ');
    const sofar = dryRun ? 'nothing was recorded' : `discarded so far: ${letters.length} letter(s)${done === '' ? '' : ` (${done})`}`;
    const hint = 'run the same command again to continue';
    if (outcome.interrupted) throw new InterruptedError(`the discard was interrupted; ${sofar}`, hint);
    throw new CliError('SHARDSYNC_CLI_TIMEOUT', `the discard did not finish within ${Math.round(walk.timeoutMs / 1000)} s; ${sofar}`, { retriable: true, hint });
  }
  const { scanned, ignored, notMatching } = outcome.counts;
  const matching = isFiltered(filter) && outcome.counts.decisions.discard === 0 ? await countMatchingLetters(ctx, filter) : undefined;
  const report: DlqDiscardReport = {
    topic: outcome.topic,
    finishedAt: new Date(ctx.now()).toISOString(),
    dryRun,
    filter,
    through: formatPositions(outcome.through),
    scanned,
    discarded: outcome.counts.decisions.discard,
    notMatching,
    ignored,
    stoppedEarly: outcome.stoppedEarly,
    letters,
    ...(matching === undefined ? {} : { matching }),
  };
  return { data: report, text: renderDlqDiscard(report), exitCode: ExitCode.ok };
}

const MESSAGE_CHARS = 60;

/** The command that discards what a dry run showed: its filter, `--yes`, and where it stopped reading. */
function confirmCommand(report: DlqDiscardReport): string {
  const flags = filterFlags(report.filter);
  return `shardsync dlq discard ${flags === '' ? '--all' : flags} --yes --through ${report.through}`;
}

/** The counts, then every discarded letter (the record an operator keeps), then warnings. */
export function renderDlqDiscard(report: DlqDiscardReport): string {
  const filter = describeFilter(report.filter);
  const fields: Array<[string, string]> = [
    ['dead letters', `${report.topic}${filter === '' ? ' (every pending letter)' : ` (only ${filter})`}`],
    ['at', report.finishedAt],
    ['read', String(report.scanned)],
    [report.dryRun ? 'would discard' : 'discarded', String(report.discarded)],
    ['left pending (filter)', String(report.notMatching)],
    ['not dead letters, ignored', String(report.ignored)],
  ];
  const lines = [renderFields(fields)];
  if (filter !== '' && report.discarded === 0) {
    lines.push('', noPendingMatchMessage(report.filter, report.matching));
  }
  if (report.letters.length > 0) {
    lines.push('', renderLetterTable(report.letters, { header: 'EVENT ID', cell: (l) => l.eventId ?? '' }, MESSAGE_CHARS));
  }
  if (report.stoppedEarly) {
    lines.push(
      '',
      'stopped early: the record of handled letters is full (too many separate runs of discarded or replayed letters among pending ones); ' +
        'handle the letters left pending (replay or discard them), then run the discard again',
    );
  }
  lines.push(
    '',
    report.dryRun
      ? report.discarded > 0
        ? `dry run: nothing was recorded; to discard exactly these letters (and none that arrive meanwhile), run:\n  ${confirmCommand(report)}`
        : 'dry run: nothing was recorded'
      : report.discarded > 0
        ? 'these letters will never be replayed; they stay in the topic (dlq list shows them as discarded) until its retention removes them'
        : 'nothing was discarded',
  );
  return lines.join('\n');
}
