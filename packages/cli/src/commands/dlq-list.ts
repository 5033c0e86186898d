import type { CliContext } from '../context.js';
import { renderLetterTable } from '../dlq/letter-table.js';
import { loadDeadLetterPartitions } from '../dlq/load.js';
import { matchesFilter, viewOf, type DeadLetterFilter, type DeadLetterView } from '../dlq/letters.js';
import { letterState } from '../dlq/replay-state.js';
import { CliError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { readRanges } from '../kafka/topic-reader.js';
import type { CommandResult } from '../output.js';
import { requireDatacenter } from './common.js';

export interface DlqListOptions extends DeadLetterFilter {
  /** Letters shown at most, oldest first. Default 100. */
  readonly limit?: number | undefined;
  /** Give up reading after this long. Default 60 s. */
  readonly timeoutMs?: number | undefined;
}

export interface DlqListReport {
  readonly topic: string;
  /** Letters the topic retains, how many of them were neither replayed nor discarded yet, and how many were discarded. */
  readonly depth: number;
  readonly pending: number;
  readonly discarded: number;
  /** Letters shown (matching the filter, at most `limit`). */
  readonly letters: readonly DeadLetterView[];
  /** True when more matching letters exist than `limit` allowed. */
  readonly truncated: boolean;
}

/**
 * Reads the dead-letter topic from the beginning, without committing anything, and lists each
 * letter: where it came from, which datacenter gave up on it and why, and whether it was replayed
 * or discarded.
 */
export async function dlqList(ctx: CliContext, options: DlqListOptions = {}): Promise<CommandResult<DlqListReport>> {
  const limit = options.limit ?? 100;
  if (options.datacenter !== undefined) requireDatacenter(ctx.topology, options.datacenter);
  const topic = ctx.topology.kafka.topics.deadLetters;
  const partitions = await loadDeadLetterPartitions(await ctx.rawAdmin(), topic);
  const letters: DeadLetterView[] = [];
  let truncated = false;
  const depth = partitions.reduce((sum, p) => sum + Number(p.high - p.low), 0);
  if (limit > 0 && depth > 0) {
    const states = new Map(partitions.map((p) => [p.partition, p.state]));
    let seen = 0;
    const outcome = await readRanges(ctx.kafka(), {
      topic,
      ranges: partitions.map((p) => ({ partition: p.partition, from: p.low, to: p.high })),
      timeoutMs: options.timeoutMs ?? 60_000,
      onEvents: (partition, events, session) => {
        const state = states.get(partition);
        for (const event of events) {
          const view = viewOf(event, state === undefined ? 'pending' : letterState(state, BigInt(event.offset)));
          seen++;
          if (!matchesAll(view, options)) continue;
          if (letters.length >= limit) {
            truncated = true;
            session.stop();
            return;
          }
          letters.push(view);
        }
        ctx.progress.update('reading dead letters', seen, depth);
      },
    });
    ctx.progress.stop();
    if (!outcome.complete) {
      throw new CliError('SHARDSYNC_CLI_TIMEOUT', `reading ${topic} did not finish within ${Math.round((options.timeoutMs ?? 60_000) / 1000)} s`, {
        retriable: true,
        hint: 'use --limit to read fewer letters, or check that Kafka is healthy',
      });
    }
  }
  letters.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  const report: DlqListReport = {
    topic,
    depth,
    pending: partitions.reduce((sum, p) => sum + p.pending, 0),
    discarded: partitions.reduce((sum, p) => sum + p.discarded, 0),
    letters,
    truncated,
  };
  return { data: report, text: renderDlqList(report), exitCode: ExitCode.ok };
}

function matchesAll(view: DeadLetterView, filter: DeadLetterFilter): boolean {
  return (filter.datacenter === undefined && filter.code === undefined) || matchesFilter(view.deadLetter, filter);
}

const MESSAGE_CHARS = 80;

/** The letters as a table, then a one-line summary. */
export function renderDlqList(report: DlqListReport): string {
  const discarded = report.discarded > 0 ? `, ${report.discarded} discarded` : '';
  const summary = `${report.topic}: ${report.depth} dead letter(s), ${report.pending} not replayed yet${discarded}`;
  if (report.letters.length === 0) return `${summary}\nno dead letters${report.depth > 0 ? ' match' : ''}`;
  const table = renderLetterTable(report.letters, { header: 'REPLAYED', cell: (l) => (l.discarded ? 'discarded' : l.replayed ? 'yes' : 'no') }, MESSAGE_CHARS);
  const more = report.truncated ? `\n(more letters match; raise --limit to see them)` : '';
  return `${summary}\n${table}${more}`;
}
