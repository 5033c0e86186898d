import type { CliContext } from '../context.js';
import { renderLetterTable } from '../dlq/letter-table.js';
import { loadPartitionsForCommand } from '../dlq/load.js';
import { describeFilter, isFiltered, matchesFilter, type DeadLetterFilter, type DeadLetterView } from '../dlq/letters.js';
import { countLetter, emptyLetterCounts, readLetters, type LetterCounts } from '../dlq/read-letters.js';
import { CliError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
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
  /**
   * The whole topic, whatever the filter: letters it retains, how many of them were neither
   * replayed nor discarded yet, and how many were discarded.
   */
  readonly depth: number;
  readonly pending: number;
  readonly discarded: number;
  /** The filter given (`--datacenter`, `--code`); absent fields match everything. */
  readonly filter?: DeadLetterFilter | undefined;
  /**
   * With a filter: the letters shown, by what became of them. All the matching letters unless
   * `truncated` (then only the first `limit`). Absent without a filter (the totals above apply).
   */
  readonly matching?: LetterCounts | undefined;
  /** Letters shown (matching the filter, at most `limit`). */
  readonly letters: readonly DeadLetterView[];
  /** True when more matching letters exist than `limit` allowed. */
  readonly truncated: boolean;
}

/**
 * Reads the dead-letter topic from the beginning, without committing anything, and lists each
 * letter: where it came from, which datacenter gave up on it and why, and whether it was replayed
 * or discarded. Reading stops at the first letter beyond `limit`.
 */
export async function dlqList(ctx: CliContext, options: DlqListOptions = {}): Promise<CommandResult<DlqListReport>> {
  const limit = options.limit ?? 100;
  if (options.datacenter !== undefined) requireDatacenter(ctx.topology, options.datacenter);
  const filter: DeadLetterFilter = { datacenter: options.datacenter, code: options.code };
  const topic = ctx.topology.kafka.topics.deadLetters;
  const partitions = await loadPartitionsForCommand(ctx, topic);
  const letters: DeadLetterView[] = [];
  let truncated = false;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const { complete } = await readLetters(ctx, topic, partitions, {
    progressLabel: 'reading dead letters',
    timeoutMs,
    onLetter: (view) => {
      if (isFiltered(filter) && !matchesFilter(view.deadLetter, filter)) return true;
      if (letters.length >= limit) {
        truncated = true;
        return false;
      }
      letters.push(view);
      return true;
    },
  });
  if (!complete) {
    throw new CliError('SHARDSYNC_CLI_TIMEOUT', `reading ${topic} did not finish within ${Math.round(timeoutMs / 1000)} s`, {
      retriable: true,
      hint: 'use --limit to read fewer letters, or check that Kafka is healthy',
    });
  }
  letters.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  const report: DlqListReport = {
    topic,
    depth: partitions.reduce((sum, p) => sum + Number(p.high - p.low), 0),
    pending: partitions.reduce((sum, p) => sum + p.pending, 0),
    discarded: partitions.reduce((sum, p) => sum + p.discarded, 0),
    ...(isFiltered(filter) ? { filter, matching: countsOf(letters) } : {}),
    letters,
    truncated,
  };
  return { data: report, text: renderDlqList(report), exitCode: ExitCode.ok };
}

function countsOf(letters: readonly DeadLetterView[]): LetterCounts {
  const counts = emptyLetterCounts();
  for (const l of letters) countLetter(counts, l);
  return counts;
}

const MESSAGE_CHARS = 80;

/**
 * The header: the topic's totals, or with a filter what matches it first (the counts of the rows
 * below) and the totals after, named as such, so neither is read as the other.
 */
function summaryOf(report: DlqListReport): string {
  const discarded = report.discarded > 0 ? `, ${report.discarded} discarded` : '';
  const totals = `${report.depth} dead letter(s), ${report.pending} not replayed yet${discarded}`;
  const m = report.matching;
  if (m === undefined || report.filter === undefined) return `${report.topic}: ${totals}`;
  const matched = report.truncated ? `the first ${m.letters} of the dead letters that match ${describeFilter(report.filter)}` : `${m.letters} dead letter(s) match ${describeFilter(report.filter)}`;
  const states = `${m.pending} not replayed yet${m.replayed > 0 ? `, ${m.replayed} replayed` : ''}${m.discarded > 0 ? `, ${m.discarded} discarded` : ''}`;
  return `${report.topic}: ${matched}: ${states} (the whole topic: ${totals})`;
}

/** The summary, then the letters as a table. */
export function renderDlqList(report: DlqListReport): string {
  const summary = summaryOf(report);
  if (report.letters.length === 0) return `${summary}\nno dead letters${report.depth > 0 ? ' match' : ''}`;
  const table = renderLetterTable(report.letters, { header: 'REPLAYED', cell: (l) => (l.discarded ? 'discarded' : l.replayed ? 'yes' : 'no') }, MESSAGE_CHARS);
  const more = report.truncated ? `\n(more letters match; raise --limit to see them)` : '';
  return `${summary}\n${table}${more}`;
}
