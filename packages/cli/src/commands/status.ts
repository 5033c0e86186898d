import { retry } from '@shardsync/runtime';
import type { CliContext } from '../context.js';
import { loadDeadLetterPartitions } from '../dlq/load.js';
import { describeError, InterruptedError, UsageError } from '../errors.js';
import { untilInterrupted, withTimeout } from '../interrupt.js';
import { ExitCode } from '../exit-codes.js';
import { consumerGroupOf, describeGroups } from '../kafka/offsets.js';
import { producedAtKey, readProducedAt, type ProducedAt, type UnappliedTarget } from '../kafka/oldest-unapplied.js';
import type { CommandResult } from '../output.js';
import { renderTable } from '../table.js';
import { formatCount, formatDuration } from '../units.js';
import { lastPassSummaries, type LastPassStatus } from './last-pass.js';

const RETRY = { maxAttempts: 3, initialDelayMs: 500, maxDelayMs: 2000 };

/** Time allowed for reading the oldest unapplied events, unless `ageTimeoutMs` says otherwise. */
const DEFAULT_AGE_TIMEOUT_MS = 10_000;

export interface StatusOptions {
  /** Read the oldest unapplied event of each lagging partition to report its age. Default true. */
  readonly age?: boolean | undefined;
  /** Time allowed for reading those events; ages not read by then are reported as unknown. Default 10 s. */
  readonly ageTimeoutMs?: number | undefined;
  /** A datacenter lagging by more events is a problem (exit 1). Default: no limit. */
  readonly maxLag?: number | undefined;
  /** A datacenter whose oldest unapplied event is older is a problem (exit 1). Default: no limit. */
  readonly maxAgeMs?: number | undefined;
}

export interface DatacenterStatus {
  readonly datacenter: string;
  /** Consumer group of the datacenter's consumers, its state and how many consumers are in it. */
  readonly group: string;
  readonly groupState: string;
  readonly consumers: number;
  /**
   * True when the group has no member: nothing applies this datacenter's updates, whether or not
   * events wait yet (a lag of 0 then only means nothing was produced since). Always a problem.
   */
  readonly noConsumers: boolean;
  /** Events not applied yet, over all partitions. */
  readonly lag: number;
  readonly laggingPartitions: number;
  /** The oldest event not applied yet; null when nothing lags or it could not be read in time. */
  readonly oldestUnapplied: { readonly ageMs: number; readonly producedAt: string; readonly partition: number; readonly offset: string } | null;
  /** Whether the datacenter's bucket answers. */
  readonly store: { readonly ok: true } | { readonly ok: false; readonly code: string; readonly message: string };
}

export interface StatusReport {
  readonly checkedAt: string;
  readonly updatesTopic: string;
  readonly datacenters: readonly DatacenterStatus[];
  /** Letters retained, neither replayed nor discarded (`pending`: a problem), and discarded. */
  readonly deadLetters: { readonly topic: string; readonly depth: number; readonly pending: number; readonly discarded: number };
  readonly lastPasses: LastPassStatus;
  /** False when any problem below was found; the exit code is then 1. */
  readonly healthy: boolean;
  readonly problems: readonly string[];
}

/**
 * Per datacenter: consumer lag in events and age, whether consumers run, whether the store
 * answers; the dead letters; the last reconciliation pass of each dataset.
 */
export async function status(ctx: CliContext, options: StatusOptions = {}): Promise<CommandResult<StatusReport>> {
  if (options.age === false && options.maxAgeMs !== undefined) {
    // Without the ages, --max-age would never find a problem: a health check that always passes.
    throw new UsageError('--max-age needs the age of the oldest unapplied events, which --no-age skips reading; use one or the other');
  }
  // Status only reads, so an interruption loses nothing: it stops at once, whatever it waits on.
  return untilInterrupted(ctx.signal, () => readStatus(ctx, options), () => new InterruptedError('status was interrupted; it only reads, so nothing changed', 'run it again'));
}

async function readStatus(ctx: CliContext, options: StatusOptions): Promise<CommandResult<StatusReport>> {
  const { topology } = ctx;
  const topic = topology.kafka.topics.updates;
  const admin = await ctx.rawAdmin();
  const names = topology.datacenters.map((d) => d.name);
  const groups = names.map(consumerGroupOf);
  const retrying = { ...RETRY, signal: ctx.signal };

  const [lags, groupInfo, deadLetters, stores, lastPasses] = await Promise.all([
    // Retried: right after a broker start, group lookups fail for a moment (NOT_COORDINATOR) while
    // the offsets topic is created.
    Promise.all(groups.map((g) => retry(() => ctx.admin().groupLag(g, topic), retrying))),
    retry(() => describeGroups(admin, groups), retrying),
    retry(() => loadDeadLetterPartitions(admin, topology.kafka.topics.deadLetters), retrying),
    Promise.all(
      names.map(async (dc): Promise<DatacenterStatus['store']> => {
        try {
          await ctx.stores().of(dc).ping(withTimeout(ctx.signal, 10_000));
          return { ok: true };
        } catch (err) {
          const d = describeError(err);
          return { ok: false, code: d.code, message: d.message };
        }
      }),
    ),
    lastPassSummaries(ctx),
  ]);

  // A group that fell behind retention resumes at the oldest retained event (groupLag's `next`):
  // its lag counts from there, and that is the event whose age is read.
  const targets: UnappliedTarget[] = lags.flatMap((partitions) => partitions.filter((p) => p.lag > 0).map((p) => ({ partition: p.partition, offset: BigInt(p.next) })));
  const produced: Map<string, ProducedAt> = options.age === false || targets.length === 0 ? new Map<string, ProducedAt>() : await readProducedAt(ctx.kafka(), topic, targets, options.ageTimeoutMs ?? DEFAULT_AGE_TIMEOUT_MS);
  const now = ctx.now();

  const datacenters = names.map((datacenter, i): DatacenterStatus => {
    const partitions = lags[i] ?? [];
    const group = groups[i] ?? consumerGroupOf(datacenter);
    let oldest: DatacenterStatus['oldestUnapplied'] = null;
    for (const p of partitions) {
      if (p.lag === 0) continue;
      const at = produced.get(producedAtKey(p.partition, BigInt(p.next)));
      if (at !== undefined && (oldest === null || now - at.producedAtMs > oldest.ageMs)) {
        oldest = { ageMs: Math.max(0, now - at.producedAtMs), producedAt: new Date(at.producedAtMs).toISOString(), partition: at.partition, offset: at.offset };
      }
    }
    const info = groupInfo.get(group);
    return {
      datacenter,
      group,
      groupState: info?.state ?? 'Dead',
      consumers: info?.members ?? 0,
      noConsumers: (info?.members ?? 0) === 0,
      lag: partitions.reduce((sum, p) => sum + p.lag, 0),
      laggingPartitions: partitions.filter((p) => p.lag > 0).length,
      oldestUnapplied: oldest,
      store: stores[i] ?? { ok: true },
    };
  });

  const dlq = {
    topic: topology.kafka.topics.deadLetters,
    depth: deadLetters.reduce((sum, p) => sum + Number(p.high - p.low), 0),
    pending: deadLetters.reduce((sum, p) => sum + p.pending, 0),
    discarded: deadLetters.reduce((sum, p) => sum + p.discarded, 0),
  };
  const problems = findProblems(datacenters, dlq, lastPasses, options);
  const report: StatusReport = {
    checkedAt: new Date(now).toISOString(),
    updatesTopic: topic,
    datacenters,
    deadLetters: dlq,
    lastPasses,
    healthy: problems.length === 0,
    problems,
  };
  return { data: report, text: renderStatus(report), exitCode: problems.length === 0 ? ExitCode.ok : ExitCode.divergence };
}

function findProblems(datacenters: readonly DatacenterStatus[], dlq: StatusReport['deadLetters'], lastPasses: LastPassStatus, options: StatusOptions): string[] {
  const problems: string[] = [];
  for (const dc of datacenters) {
    if (!dc.store.ok) problems.push(`${dc.datacenter}: the store does not answer: ${dc.store.message}`);
    if (dc.noConsumers) {
      const group = dc.groupState === 'Dead' ? `group ${dc.group} does not exist` : `group ${dc.group} is ${dc.groupState}`;
      problems.push(
        dc.lag > 0
          ? `${dc.datacenter}: ${formatCount(dc.lag)} event(s) wait and no consumer is running (${group})`
          : `${dc.datacenter}: no consumer is running (${group}); nothing waits yet, but new updates will not be applied there`,
      );
    }
    if (options.maxLag !== undefined && dc.lag > options.maxLag) problems.push(`${dc.datacenter}: lag ${formatCount(dc.lag)} is above --max-lag ${formatCount(options.maxLag)}`);
    if (options.maxAgeMs !== undefined && dc.oldestUnapplied !== null && dc.oldestUnapplied.ageMs > options.maxAgeMs) {
      problems.push(`${dc.datacenter}: the oldest unapplied event is ${formatDuration(dc.oldestUnapplied.ageMs)} old, above --max-age ${formatDuration(options.maxAgeMs)}`);
    } else if (options.maxAgeMs !== undefined && dc.oldestUnapplied === null && dc.lag > 0) {
      // Events wait and their age is unknown: the check asked for could not be made, which must not pass for healthy.
      problems.push(
        `${dc.datacenter}: the age of the oldest unapplied event could not be read within --age-timeout ${formatDuration(options.ageTimeoutMs ?? DEFAULT_AGE_TIMEOUT_MS)}, so --max-age ${formatDuration(options.maxAgeMs)} cannot be checked`,
      );
    }
  }
  if (dlq.pending > 0) problems.push(`${dlq.pending} dead letter(s) not replayed; inspect them with: shardsync dlq list, then replay or discard them`);
  if (!lastPasses.available) {
    // Without the pass history, status cannot tell whether the datacenters were last found to agree.
    problems.push(`the last reconcile passes could not be read: ${lastPasses.reason}`);
  } else {
    for (const pass of lastPasses.passes) {
      if (pass.summary !== undefined && !pass.summary.converged) {
        problems.push(`dataset ${pass.dataset}: the last reconcile pass left ${pass.summary.remaining} divergent cop${pass.summary.remaining === 1 ? 'y' : 'ies'}; run: shardsync reconcile --dataset ${pass.dataset}`);
      }
    }
  }
  return problems;
}

/** The status as tables and a list of problems. */
export function renderStatus(report: StatusReport): string {
  const dcTable = renderTable(
    [
      { header: 'DATACENTER' },
      { header: 'CONSUMERS', align: 'right' },
      { header: 'LAG (EVENTS)', align: 'right' },
      { header: 'LAGGING PARTITIONS', align: 'right' },
      { header: 'OLDEST UNAPPLIED' },
      { header: 'STORE' },
    ],
    report.datacenters.map((dc) => [
      dc.datacenter,
      dc.noConsumers ? 'none running' : String(dc.consumers),
      formatCount(dc.lag),
      String(dc.laggingPartitions),
      dc.oldestUnapplied !== null ? `${formatDuration(dc.oldestUnapplied.ageMs)} ago` : dc.lag > 0 ? 'unknown' : '-',
      dc.store.ok ? 'ok' : dc.store.code,
    ]),
  );
  const lines = [`updates topic ${report.updatesTopic}, checked ${report.checkedAt}`, '', dcTable, ''];
  const discarded = report.deadLetters.discarded > 0 ? `, ${formatCount(report.deadLetters.discarded)} discarded` : '';
  lines.push(`dead letters: ${formatCount(report.deadLetters.depth)} in ${report.deadLetters.topic}, ${formatCount(report.deadLetters.pending)} not replayed${discarded}`);
  lines.push(...renderLastPasses(report.lastPasses));
  lines.push('', report.problems.length === 0 ? 'healthy' : `problems:\n${report.problems.map((p) => `  - ${p}`).join('\n')}`);
  return lines.join('\n');
}

function renderLastPasses(status: LastPassStatus): string[] {
  if (!status.available) return [`last reconcile pass: unknown (${status.reason})`];
  if (status.passes.length === 0) return ['last reconcile pass: none recorded'];
  return status.passes.map((p) => {
    if (p.summary === undefined) return `last reconcile pass of ${p.dataset}: none recorded`;
    const s = p.summary;
    const outcome = s.converged ? 'converged' : `${s.remaining} divergent cop${s.remaining === 1 ? 'y' : 'ies'} left`;
    // A pass that repairs only some datacenters (`bootstrap`, `reconcile --datacenter`) says so: it
    // says nothing of the divergence between the others.
    const scope = s.targets.length < s.datacenters.length ? ` (repairing ${s.targets.join(', ')} only)` : '';
    return `last reconcile pass of ${p.dataset}: ${s.finishedAt}${s.dryRun ? ' (dry run)' : ''}${scope}, ${s.divergentKeys} divergent key(s), ${s.repaired} repaired, ${outcome}`;
  });
}
