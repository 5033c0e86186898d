import type { CliContext } from '../context.js';
import { ensureNoOtherRun } from '../dlq/exclusive.js';
import { describeFilter, isFiltered, matchesFilter, viewOf, type DeadLetterFilter, type DeadLetterView } from '../dlq/letters.js';
import { loadDeadLetterPartitions } from '../dlq/load.js';
import { DLQ_REPLAY_GROUP, encodeReplayState, ReplayTracker } from '../dlq/replay-state.js';
import { CliError, UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { readRanges } from '../kafka/topic-reader.js';
import type { CommandResult } from '../output.js';
import { renderFields, renderTable } from '../table.js';
import { requireDatacenter } from './common.js';

export interface DlqDiscardOptions extends DeadLetterFilter {
  /** Every pending letter, when no filter narrows the selection. Required then, so a forgotten filter discards nothing. Default false. */
  readonly all?: boolean | undefined;
  /** Show what would be discarded; record nothing. Default false. */
  readonly dryRun?: boolean | undefined;
  /** The operator's confirmation; without it (and without `dryRun`) nothing is read or recorded. Default false. */
  readonly yes?: boolean | undefined;
  /** Consumer group that keeps what was replayed and discarded. Default `shardsync.dlq-replay`. */
  readonly groupId?: string | undefined;
  /** Give up after this long; what was discarded until then stays recorded. Default 30 min. */
  readonly timeoutMs?: number | undefined;
}

export interface DlqDiscardReport {
  readonly topic: string;
  /** When the discard finished (ISO 8601), for the operator's record. */
  readonly finishedAt: string;
  readonly dryRun: boolean;
  readonly filter: DeadLetterFilter;
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
}

/**
 * Gives up dead letters that must never be replayed (undecodable records, payloads corrupt in
 * every datacenter), so `status` stops counting them and `dlq replay` never sends them. Nothing is
 * deleted: the letters stay in the topic until its retention removes them, `dlq list` shows them
 * as discarded, and the report lists every one. What was discarded is recorded with the replay
 * progress (see `replay-state.ts`), committed after each batch, so an interrupted discard resumes.
 */
export async function dlqDiscard(ctx: CliContext, options: DlqDiscardOptions = {}): Promise<CommandResult<DlqDiscardReport>> {
  const filter: DeadLetterFilter = { datacenter: options.datacenter, code: options.code };
  const dryRun = options.dryRun ?? false;
  if (isFiltered(filter) && options.all === true) throw new UsageError('--all discards every pending letter; it cannot be combined with --datacenter or --code');
  if (!isFiltered(filter) && options.all !== true) {
    throw new UsageError('choose the letters to discard with --code and/or --datacenter, or --all for every pending letter', 'see them first with: shardsync dlq list');
  }
  if (!dryRun && options.yes !== true) {
    throw new UsageError('discarding dead letters cannot be undone by shardsync: the discarded updates are never replayed; add --yes to confirm', 'see what it would discard with the same command and --dry-run instead of --yes');
  }
  if (options.datacenter !== undefined) requireDatacenter(ctx.topology, options.datacenter);
  const groupId = options.groupId ?? DLQ_REPLAY_GROUP;
  const topic = ctx.topology.kafka.topics.deadLetters;
  const admin = await ctx.rawAdmin();
  if (!dryRun) await ensureNoOtherRun(admin, groupId);

  const partitions = await loadDeadLetterPartitions(admin, topic, groupId);
  const toRead = partitions.filter((p) => p.state.watermark < p.high);
  const total = toRead.reduce((sum, p) => sum + Number(p.high - p.state.watermark), 0);
  const trackers = new Map(partitions.map((p) => [p.partition, new ReplayTracker(p.state)]));
  const ends = new Map(partitions.map((p) => [p.partition, p.high]));
  const letters: DeadLetterView[] = [];
  const counts = { scanned: 0, discarded: 0, notMatching: 0, ignored: 0 };
  let stoppedEarly = false;

  const outcome = await readRanges(ctx.kafka(), {
    topic,
    // A dry run reads with a throw-away group, so it neither records anything nor disturbs a real run.
    groupId: dryRun ? undefined : groupId,
    ranges: toRead.map((p) => ({ partition: p.partition, from: p.state.watermark, to: p.high })),
    timeoutMs: options.timeoutMs ?? 30 * 60_000,
    onEvents: async (partition, events, session) => {
      const tracker = trackers.get(partition);
      if (tracker === undefined) return;
      for (const event of events) {
        const offset = BigInt(event.offset);
        if (tracker.isReplayed(offset)) {
          tracker.markDone(offset);
          continue;
        }
        const view = viewOf(event, 'pending');
        const wanted = view.deadLetter !== undefined && matchesFilter(view.deadLetter, filter);
        if (wanted && !tracker.canDiscard(offset)) {
          stoppedEarly = true;
          session.stop();
          break;
        }
        counts.scanned++;
        if (view.deadLetter === undefined) {
          counts.ignored++;
          tracker.markDone(offset);
        } else if (!wanted) {
          counts.notMatching++;
          tracker.markPending(offset);
        } else {
          counts.discarded++;
          letters.push({ ...view, discarded: true });
          tracker.markDiscarded(offset);
        }
      }
      const last = events[events.length - 1];
      const end = ends.get(partition);
      if (!stoppedEarly && last !== undefined && end !== undefined && BigInt(last.offset) + 1n >= end) tracker.complete(end);
      if (!dryRun) {
        const { state } = tracker;
        await session.commit([{ partition, offset: state.watermark, metadata: encodeReplayState(state) }]);
      }
      ctx.progress.update(dryRun ? 'checking dead letters' : 'discarding dead letters', counts.scanned, total);
    },
  });
  ctx.progress.stop();
  letters.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  if (!outcome.complete) {
    // The letters discarded so far are recorded; say which, since the report is not printed.
    const done = letters.map((l) => `${l.partition}/${l.offset}`).join(', ');
    throw new CliError('SHARDSYNC_CLI_TIMEOUT', `the discard did not finish within ${Math.round((options.timeoutMs ?? 30 * 60_000) / 1000)} s; ${dryRun ? 'nothing was recorded' : `discarded so far: ${letters.length} letter(s)${done === '' ? '' : ` (${done})`}`}`, {
      retriable: true,
      hint: 'run the same command again to continue',
    });
  }
  const report: DlqDiscardReport = { topic, finishedAt: new Date(ctx.now()).toISOString(), dryRun, filter, ...counts, stoppedEarly, letters };
  return { data: report, text: renderDlqDiscard(report), exitCode: ExitCode.ok };
}

const MESSAGE_CHARS = 60;

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
    lines.push('', `warning: no pending dead letter matched ${filter}; check the spelling with: shardsync dlq list`);
  }
  if (report.letters.length > 0) {
    lines.push(
      '',
      renderTable(
        [
          { header: 'LETTER' },
          { header: 'DEAD-LETTERED AT' },
          { header: 'DATACENTER' },
          { header: 'CODE' },
          { header: 'ORIGINAL (TOPIC/PARTITION/OFFSET)' },
          { header: 'KEY' },
          { header: 'EVENT ID' },
          { header: 'MESSAGE' },
        ],
        report.letters.map((l) => {
          const d = l.deadLetter;
          const message = (d?.message ?? '').replace(/\s+/g, ' ');
          return [
            `${l.partition}/${l.offset}`,
            d === undefined || d.atMs === 0 ? '' : new Date(d.atMs).toISOString(),
            d?.datacenter ?? '',
            d?.code ?? '',
            d === undefined ? '' : `${d.originalTopic}/${d.originalPartition}/${d.originalOffset}`,
            l.key,
            l.eventId ?? '',
            message.length > MESSAGE_CHARS ? `${message.slice(0, MESSAGE_CHARS - 1)}…` : message,
          ];
        }),
      ),
    );
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
      ? 'dry run: nothing was recorded; run the same command with --yes instead of --dry-run to discard these letters'
      : report.discarded > 0
        ? 'these letters will never be replayed; they stay in the topic (dlq list shows them as discarded) until its retention removes them'
        : 'nothing was discarded',
  );
  return lines.join('\n');
}
