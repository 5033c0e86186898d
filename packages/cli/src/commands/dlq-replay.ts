import { fromDeadLetter, KafkaEventSink, type OutgoingEvent } from '@shardsync/eventlog';
import type { CliContext } from '../context.js';
import { ensureNoOtherRun } from '../dlq/exclusive.js';
import { describeFilter, identityOf, matchesFilter, viewOf, type DeadLetterFilter, type DeadLetterView } from '../dlq/letters.js';
import { loadDeadLetterPartitions } from '../dlq/load.js';
import { DLQ_REPLAY_GROUP, encodeReplayState, ReplayTracker } from '../dlq/replay-state.js';
import { CliError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { readRanges } from '../kafka/topic-reader.js';
import type { CommandResult } from '../output.js';
import { renderFields, renderTable } from '../table.js';
import { requireDatacenter } from './common.js';

export interface DlqReplayOptions extends DeadLetterFilter {
  /** Show what would be replayed; send and record nothing. Default false. */
  readonly dryRun?: boolean | undefined;
  /** Consumer group that keeps the replay progress. Default `shardsync.dlq-replay`. */
  readonly groupId?: string | undefined;
  /** Give up after this long; what was replayed until then stays recorded. Default 30 min. */
  readonly timeoutMs?: number | undefined;
}

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
  /** Letters left for a later replay because they do not match the filter. */
  readonly notMatching: number;
  /** Records without dead-letter headers: never replayed. */
  readonly ignored: number;
  /** True when the replay stopped before the end (too many interleaved letters left behind); run it again. */
  readonly stoppedEarly: boolean;
  /** The letters sent back, at most {@link MAX_LISTED}. */
  readonly letters: readonly DeadLetterView[];
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
  const dryRun = options.dryRun ?? false;
  const groupId = options.groupId ?? DLQ_REPLAY_GROUP;
  const topic = ctx.topology.kafka.topics.deadLetters;
  const updatesTopic = ctx.topology.kafka.topics.updates;
  const filter: DeadLetterFilter = { datacenter: options.datacenter, code: options.code };
  const admin = await ctx.rawAdmin();

  if (!dryRun) await ensureNoOtherRun(admin, groupId);
  const partitions = await loadDeadLetterPartitions(admin, topic, groupId);
  const toRead = partitions.filter((p) => p.state.watermark < p.high);
  const total = toRead.reduce((sum, p) => sum + Number(p.high - p.state.watermark), 0);
  const trackers = new Map(partitions.map((p) => [p.partition, new ReplayTracker(p.state)]));
  const ends = new Map(partitions.map((p) => [p.partition, p.high]));
  const sent = new Set<string>();
  const letters: DeadLetterView[] = [];
  const counts = { scanned: 0, replayed: 0, duplicates: 0, notMatching: 0, ignored: 0 };
  let stoppedEarly = false;
  const sink = dryRun ? undefined : new KafkaEventSink(ctx.kafka());

  try {
    const outcome = await readRanges(ctx.kafka(), {
      topic,
      // A dry run reads with a throw-away group, so it neither records progress nor disturbs a real replay.
      groupId: dryRun ? undefined : groupId,
      ranges: toRead.map((p) => ({ partition: p.partition, from: p.state.watermark, to: p.high })),
      timeoutMs: options.timeoutMs ?? 30 * 60_000,
      onEvents: async (partition, events, session) => {
        const tracker = trackers.get(partition);
        if (tracker === undefined) return;
        const batch: OutgoingEvent[] = [];
        for (const event of events) {
          const offset = BigInt(event.offset);
          if (tracker.isReplayed(offset)) {
            tracker.markDone(offset);
            continue;
          }
          const view = viewOf(event, 'pending');
          const wanted = view.deadLetter !== undefined && matchesFilter(view.deadLetter, filter);
          if (wanted && !tracker.canMarkDone(offset)) {
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
          } else if (sent.has(identityOf(view))) {
            counts.duplicates++;
            tracker.markDone(offset);
          } else {
            sent.add(identityOf(view));
            counts.replayed++;
            if (letters.length < MAX_LISTED) letters.push({ ...view, replayed: true });
            batch.push(fromDeadLetter(event));
            tracker.markDone(offset);
          }
        }
        const last = events[events.length - 1];
        const end = ends.get(partition);
        if (!stoppedEarly && last !== undefined && end !== undefined && BigInt(last.offset) + 1n >= end) tracker.complete(end);
        if (sink !== undefined) {
          if (batch.length > 0) await sink.append(updatesTopic, batch);
          const { state } = tracker;
          await session.commit([{ partition, offset: state.watermark, metadata: encodeReplayState(state) }]);
        }
        ctx.progress.update(dryRun ? 'checking dead letters' : 'replaying dead letters', counts.scanned, total);
      },
    });
    ctx.progress.stop();
    if (!outcome.complete) {
      throw new CliError('SHARDSYNC_CLI_TIMEOUT', `the replay did not finish within ${Math.round((options.timeoutMs ?? 30 * 60_000) / 1000)} s; what was replayed so far is recorded`, {
        retriable: true,
        hint: 'run dlq replay again to continue',
      });
    }
  } finally {
    await sink?.close();
  }
  const report: DlqReplayReport = { topic, updatesTopic, dryRun, filter, ...counts, stoppedEarly, letters };
  return { data: report, text: renderDlqReplay(report), exitCode: ExitCode.ok };
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
  if (filter !== '' && report.replayed === 0 && report.duplicates === 0) {
    lines.push('', `warning: no pending dead letter matched ${filter}; check the spelling with: shardsync dlq list`);
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
