import { NoSuchBucketError } from '@shardsync/objectstore';
import { renderPassReport, type DatacenterCounts, type PassReport } from '@shardsync/reconcile';
import type { CliContext } from '../context.js';
import { CliError, InterruptedError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import type { CommandResult } from '../output.js';
import { renderTable } from '../table.js';
import { formatBytes } from '../units.js';
import { recordPasses } from './last-pass.js';
import { coversDataset, runLockedPasses } from './passes.js';
import { passRequests } from './reconcile.js';

export interface BootstrapOptions {
  /** The datacenter to fill. */
  readonly datacenter: string;
  /** Default: every dataset replicated to the datacenter. */
  readonly dataset?: string | undefined;
  /** Report what would be copied; copy nothing. Default false. */
  readonly dryRun?: boolean | undefined;
  /** Run without taking the datasets' pass locks (a holder known to be gone). Default false. */
  readonly ignorePassLock?: boolean | undefined;
}

export interface BootstrapResult {
  readonly datacenter: string;
  /**
   * True when the datacenter holds every dataset's winning state at the end: none of its copies
   * failed or was left as is. Divergence among the other datacenters does not count here.
   */
  readonly complete: boolean;
  /** Copies written (objects and tombstones) and object bytes moved into the datacenter. */
  readonly repaired: number;
  readonly bytesMoved: number;
  readonly passes: readonly PassReport[];
  /** Why the passes could not be recorded in the pass history, if they could not. */
  readonly historyWarning?: string | undefined;
  /** Why some passes ran without their dataset's pass lock, if any did. */
  readonly lockWarnings?: readonly string[] | undefined;
}

/**
 * Fills an empty or new datacenter from its peers (disaster recovery): for each dataset, a
 * reconciliation pass that compares every datacenter but writes only to this one. Resumable by
 * construction: the pass compares digests first, so keys already present with the winning
 * version are skipped, and an interrupted bootstrap simply continues where the stores stand.
 */
export async function bootstrap(ctx: CliContext, options: BootstrapOptions): Promise<CommandResult<BootstrapResult>> {
  const requests = passRequests(ctx, { datacenter: options.datacenter, dataset: options.dataset, dryRun: options.dryRun, unmanaged: 'report' });
  try {
    await ctx.stores().of(options.datacenter).ping(ctx.signal);
  } catch (err) {
    if (ctx.signal?.aborted === true) throw new InterruptedError(`interrupted before the first pass; nothing was copied into ${options.datacenter}`, 'run the same command again');
    if (err instanceof NoSuchBucketError) {
      throw new CliError('SHARDSYNC_CLI_FAILED', `the bucket of ${options.datacenter} does not exist: ${err.message}`, { cause: err, hint: 'create it with: shardsync init' });
    }
    throw err;
  }
  const { reports: passes, lockWarnings } = await runLockedPasses(ctx, requests, options.ignorePassLock === true);
  const historyWarning = await recordPasses(ctx, passes.filter((p) => coversDataset(ctx, p)));
  const counts = passes.map((p) => p.perDatacenter.find((c) => c.datacenter === options.datacenter));
  const result: BootstrapResult = {
    datacenter: options.datacenter,
    complete: counts.every(isComplete),
    repaired: counts.reduce((sum, c) => sum + (c?.repaired ?? 0), 0),
    bytesMoved: passes.reduce((sum, p) => sum + p.bytesMoved, 0),
    passes,
    ...(historyWarning === undefined ? {} : { historyWarning }),
    ...(lockWarnings.length === 0 ? {} : { lockWarnings }),
  };
  return { data: result, text: renderBootstrap(result), exitCode: result.complete ? ExitCode.ok : ExitCode.divergence };
}

function isComplete(counts: DatacenterCounts | undefined): boolean {
  return counts !== undefined && counts.failed === 0 && counts.notRepaired === 0;
}

export function renderBootstrap(result: BootstrapResult): string {
  const rows = result.passes.map((p) => {
    const c = p.perDatacenter.find((d) => d.datacenter === result.datacenter);
    return [
      p.dataset,
      String(c?.missing ?? 0),
      String((c?.stale ?? 0) + (c?.corrupt ?? 0) + (c?.shouldBeDeleted ?? 0) + (c?.unmanaged ?? 0)),
      String(c?.repaired ?? 0),
      String(c?.failed ?? 0),
      formatBytes(p.bytesMoved),
      isComplete(c) ? 'complete' : p.dryRun ? 'dry run' : 'incomplete',
    ];
  });
  const table = renderTable(
    [
      { header: 'DATASET' },
      { header: 'MISSING', align: 'right' },
      { header: 'OTHER DIVERGENCE', align: 'right' },
      { header: 'REPAIRED', align: 'right' },
      { header: 'FAILED', align: 'right' },
      { header: 'MOVED', align: 'right' },
      { header: 'STATE' },
    ],
    rows,
  );
  const target = (p: PassReport) => p.perDatacenter.find((d) => d.datacenter === result.datacenter);
  // Copies a pass decided to leave (objects shardsync never wrote, reported only) stay so however
  // often the bootstrap runs: only failed copies are worth running it again for.
  const left = result.passes.filter((p) => !p.dryRun && (target(p)?.notRepaired ?? 0) > 0);
  const failed = result.passes.some((p) => (target(p)?.failed ?? 0) > 0);
  const leftNotes = left.map(
    (p) =>
      `${target(p)?.notRepaired ?? 0} cop(ies) of dataset ${p.dataset} in ${result.datacenter} were left as they are (objects shardsync never wrote are reported, never changed, by bootstrap); see them with: shardsync reconcile --dataset ${p.dataset} --datacenter ${result.datacenter} --dry-run`,
  );
  const verdict = result.complete
    ? `${result.datacenter} holds every dataset's current state (${result.repaired} copies written, ${formatBytes(result.bytesMoved)} moved)`
    : result.passes.some((p) => p.dryRun)
      ? `dry run: nothing was copied into ${result.datacenter}; run the same command without --dry-run to fill it`
      : [...(failed || left.length === 0 ? [`${result.datacenter} is not complete yet; run the same command again: it resumes where the stores stand`] : [`${result.datacenter} is not complete`]), ...leftNotes].join('\n');
  const failures = result.passes.some((p) => p.failures.length > 0) ? `\n\n${result.passes.map((p) => renderPassReport(p, { maxKeys: 10 }).trimEnd()).join('\n\n')}` : '';
  // Unrecorded, the run leaves `status` reporting the last pass before it (a lost datacenter's).
  const history = result.historyWarning === undefined ? [] : [`the pass was not recorded in the pass history: ${result.historyWarning}`];
  const notes = [...history, ...(result.lockWarnings ?? [])].map((w) => `\nnote: ${w}`).join('');
  return `bootstrap of ${result.datacenter}\n\n${table}\n\n${verdict}${failures}${notes}`;
}
