import { renderPassReport, type PassReport, type PassRequest, type UnmanagedPolicy } from '@shardsync/reconcile';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import type { CommandResult } from '../output.js';
import { shellWord } from '../shell.js';
import { requireDatacenter, requireDataset } from './common.js';
import { commonPrefix, compileExactKeys, ExactKeyScope } from './exact-keys.js';
import { recordPasses } from './last-pass.js';
import { coversDataset, runLockedPasses } from './passes.js';

export interface ReconcileOptions {
  /** Default: every dataset of the topology, one pass each. */
  readonly dataset?: string | undefined;
  /** Repair only this datacenter (the others are compared and serve as sources). Default: repair all. */
  readonly datacenter?: string | undefined;
  /**
   * Only keys under this prefix, relative to the dataset: `tmp/debug.bin` also matches
   * `tmp/debug.bin.keep`. Default: all keys.
   */
  readonly prefix?: string | undefined;
  /**
   * Only exactly these keys, relative to `dataset` (which is then required). Excludes `prefix`.
   * Default: all keys.
   */
  readonly keys?: readonly string[] | undefined;
  readonly dryRun?: boolean | undefined;
  readonly deep?: boolean | undefined;
  /** Deep mode's read budget. Default: the reconcile package's (100 MiB/s). */
  readonly bytesPerSecond?: number | undefined;
  /** What to do with objects shardsync never wrote. Default `report`. */
  readonly unmanaged?: UnmanagedPolicy | undefined;
  /** Run without taking the datasets' pass locks (a holder known to be gone). Default false. */
  readonly ignorePassLock?: boolean | undefined;
}

export interface ReconcileResult {
  /** True when no divergence remains in any pass. */
  readonly converged: boolean;
  readonly passes: readonly PassReport[];
  /** The keys the pass was limited to (`--key`), if it was. */
  readonly keys?: readonly string[] | undefined;
  /** Of those, the keys no datacenter holds: neither an object nor a tombstone. */
  readonly keysNotFound?: readonly string[] | undefined;
  /** Why the passes could not be recorded in the pass history, if they could not. */
  readonly historyWarning?: string | undefined;
  /** Why some passes ran without their dataset's pass lock, if any did. */
  readonly lockWarnings?: readonly string[] | undefined;
}

/** The passes a `reconcile` invocation runs: one per dataset asked for (that holds the datacenter, if one is given). */
export function passRequests(ctx: CliContext, options: ReconcileOptions): PassRequest[] {
  const { topology } = ctx;
  if (options.bytesPerSecond !== undefined && options.deep !== true) {
    throw new UsageError('--bytes-per-second paces the reads of --deep, and a pass without --deep reads no bytes; add --deep or leave it out');
  }
  if (options.keys !== undefined) {
    if (options.prefix !== undefined) throw new UsageError('--key and --prefix cannot be used together: --key is one exact key, --prefix every key that starts with it');
    if (options.dataset === undefined) throw new UsageError('--key names a key of one dataset; add --dataset <name>');
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
    prefix: options.keys === undefined ? options.prefix : commonPrefix(compileExactKeys(options.keys)),
    dryRun: options.dryRun,
    deep: options.deep,
    bytesPerSecond: options.bytesPerSecond,
    unmanaged: options.unmanaged,
  }));
}

/**
 * One reconciliation pass per dataset through the code the scheduled job runs (`runPass`), its
 * report printed. Exit 0 when the datacenters agree at the end, 1 when divergence remains (always
 * for a dry run that found some), 3 when they agree but a `--key` is in no datacenter.
 */
export async function reconcile(ctx: CliContext, options: ReconcileOptions = {}): Promise<CommandResult<ReconcileResult>> {
  const requests = passRequests(ctx, options);
  const dataset = requests[0]?.dataset;
  const scope = options.keys === undefined || dataset === undefined ? undefined : new ExactKeyScope(ctx.stores(), dataset, compileExactKeys(options.keys));
  const { reports: passes, lockWarnings } = await runLockedPasses(ctx, requests, options.ignorePassLock === true, scope);
  // Only a pass over the whole dataset may stand as its last pass: `status` reports that pass's
  // divergence as the dataset's. A pass over a few keys can have a prefix of '' (keys sharing none).
  const recordable = scope === undefined ? passes.filter((p) => coversDataset(ctx, p)) : [];
  const historyWarning = recordable.length === 0 ? undefined : await recordPasses(ctx, recordable);
  const converged = passes.every((p) => p.converged);
  const result: ReconcileResult = {
    converged,
    passes,
    ...(scope === undefined ? {} : { keys: scope.keys, keysNotFound: scope.unlisted() }),
    ...(historyWarning === undefined ? {} : { historyWarning }),
    ...(lockWarnings.length === 0 ? {} : { lockWarnings }),
  };
  return { data: result, text: renderReconcile(result), exitCode: reconcileExitCode(result) };
}

/** Divergence left comes first (it needs a repair); then a `--key` no datacenter holds (a typo). */
function reconcileExitCode(result: ReconcileResult): ExitCode {
  if (!result.converged) return ExitCode.divergence;
  return (result.keysNotFound ?? []).length > 0 ? ExitCode.notFound : ExitCode.ok;
}

export function renderReconcile(result: ReconcileResult): string {
  const parts = result.passes.map((p) => {
    const notes = result.keys === undefined ? prefixNotes(p) : keyNotes(p.dataset, result.keysNotFound ?? []);
    if (result.keys !== undefined || p.prefix !== '') notes.push(partialPassNote(p.dataset));
    return [scopedReport(p, result.keys), ...notes.map((n) => `note: ${n}`)].join('\n');
  });
  const notFound = result.keysNotFound ?? [];
  if (notFound.length > 0) parts.push(`result: ${notFound.length} of the keys asked for ${notFound.length === 1 ? 'is' : 'are'} in no datacenter (see the notes above); check their spelling`);
  if (result.historyWarning !== undefined) parts.push(`note: the pass was not recorded in the pass history: ${result.historyWarning}`);
  for (const warning of result.lockWarnings ?? []) parts.push(`note: ${warning}`);
  return parts.join('\n\n');
}

/** The pass report, its heading naming the exact keys of a `--key` pass rather than the prefix it listed. */
function scopedReport(p: PassReport, keys: readonly string[] | undefined): string {
  const text = renderPassReport(p).trimEnd();
  if (keys === undefined) return text;
  const listed = p.prefix === '' ? '' : ` (prefix ${JSON.stringify(p.prefix)})`;
  const scope = ` (${keys.length === 1 ? 'key' : 'keys'} ${keys.map((k) => JSON.stringify(k)).join(', ')})`;
  return text.replace(`\ndataset ${p.dataset}${listed} `, `\ndataset ${p.dataset}${scope} `);
}

function prefixNotes(p: PassReport): string[] {
  // Keys are relative to the dataset; a prefix that repeats its name matches nothing, silently.
  const doubled = p.prefix.startsWith(`${p.dataset}/`) && p.totals.scanned === 0;
  return doubled ? [`--prefix is relative to the dataset and matched no key; did you mean --prefix ${shellWord(p.prefix.slice(p.dataset.length + 1))}?`] : [];
}

function keyNotes(dataset: string, notFound: readonly string[]): string[] {
  return notFound.map((key) => {
    const doubled = key.startsWith(`${dataset}/`) ? `; keys are relative to the dataset: did you mean --key ${shellWord(key.slice(dataset.length + 1))}?` : '';
    return `no datacenter holds key ${JSON.stringify(key)} (neither an object nor a tombstone)${doubled}`;
  });
}

/**
 * Why `status` may still show divergence this pass repaired: the pass history keeps only passes
 * over a whole dataset (see `coversDataset`), and `status` shows the dataset's last one.
 */
function partialPassNote(dataset: string): string {
  return `this pass covered part of the dataset, so it is not recorded as the dataset's last pass and shardsync status keeps reporting the last full pass; run a full pass to update it: shardsync reconcile --dataset ${dataset} --dry-run`;
}
