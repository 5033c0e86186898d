import { renderPassReport, type PassReport, type PassRequest, type UnmanagedPolicy } from '@shardsync/reconcile';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import type { CommandResult } from '../output.js';
import { requireDatacenter, requireDataset } from './common.js';
import { recordPasses } from './last-pass.js';
import { coversDataset, runPasses } from './passes.js';

export interface ReconcileOptions {
  /** Default: every dataset of the topology, one pass each. */
  readonly dataset?: string | undefined;
  /** Repair only this datacenter (the others are compared and serve as sources). Default: repair all. */
  readonly datacenter?: string | undefined;
  /** Only keys under this prefix, relative to the dataset. Default: all keys. */
  readonly prefix?: string | undefined;
  readonly dryRun?: boolean | undefined;
  readonly deep?: boolean | undefined;
  /** Deep mode's read budget. Default: the reconcile package's (100 MiB/s). */
  readonly bytesPerSecond?: number | undefined;
  /** What to do with objects shardsync never wrote. Default `report`. */
  readonly unmanaged?: UnmanagedPolicy | undefined;
}

export interface ReconcileResult {
  /** True when no divergence remains in any pass. */
  readonly converged: boolean;
  readonly passes: readonly PassReport[];
  /** Why the passes could not be recorded in the pass history, if they could not. */
  readonly historyWarning?: string | undefined;
}

/** The passes a `reconcile` invocation runs: one per dataset asked for (that holds the datacenter, if one is given). */
export function passRequests(ctx: CliContext, options: ReconcileOptions): PassRequest[] {
  const { topology } = ctx;
  if (options.bytesPerSecond !== undefined && options.deep !== true) {
    throw new UsageError('--bytes-per-second paces the reads of --deep, and a pass without --deep reads no bytes; add --deep or leave it out');
  }
  if (options.datacenter !== undefined) requireDatacenter(topology, options.datacenter);
  let datasets = options.dataset === undefined ? topology.datasets : [requireDataset(topology, options.dataset, '--dataset')];
  if (options.datacenter !== undefined) {
    const dc = options.datacenter;
    if (options.dataset !== undefined && !datasets.some((d) => d.datacenters.includes(dc))) {
      throw new UsageError(`--datacenter: dataset ${JSON.stringify(options.dataset)} is not replicated to ${dc}; its datacenters: ${datasets[0]?.datacenters.join(', ') ?? ''}`);
    }
    datasets = datasets.filter((d) => d.datacenters.includes(dc));
    if (datasets.length === 0) throw new UsageError(`--datacenter: no dataset is replicated to ${dc}`);
  }
  return datasets.map((d) => ({
    dataset: d.name,
    targets: options.datacenter === undefined ? undefined : [options.datacenter],
    prefix: options.prefix,
    dryRun: options.dryRun,
    deep: options.deep,
    bytesPerSecond: options.bytesPerSecond,
    unmanaged: options.unmanaged,
  }));
}

/**
 * One reconciliation pass per dataset through the code the scheduled job runs (`runPass`), its
 * report printed. Exit 0 when the datacenters agree at the end, 1 when divergence remains (always
 * for a dry run that found some).
 */
export async function reconcile(ctx: CliContext, options: ReconcileOptions = {}): Promise<CommandResult<ReconcileResult>> {
  const requests = passRequests(ctx, options);
  const passes = await runPasses(ctx, requests);
  const historyWarning = await recordPasses(ctx, passes.filter((p) => coversDataset(ctx, p)));
  const converged = passes.every((p) => p.converged);
  const result: ReconcileResult = { converged, passes, ...(historyWarning === undefined ? {} : { historyWarning }) };
  return { data: result, text: renderReconcile(result), exitCode: converged ? ExitCode.ok : ExitCode.divergence };
}

export function renderReconcile(result: ReconcileResult): string {
  const parts = result.passes.map((p) => {
    const text = renderPassReport(p).trimEnd();
    // Keys are relative to the dataset; a prefix that repeats its name matches nothing, silently.
    const doubled = p.prefix !== undefined && p.prefix.startsWith(`${p.dataset}/`) && p.totals.scanned === 0;
    return doubled ? `${text}\nnote: --prefix is relative to the dataset and matched no key; did you mean --prefix ${JSON.stringify(p.prefix?.slice(p.dataset.length + 1))}?` : text;
  });
  if (result.historyWarning !== undefined) parts.push(`note: the pass was not recorded in the pass history: ${result.historyWarning}`);
  return parts.join('\n\n');
}
