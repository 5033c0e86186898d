import { runPass, type PassProgress, type PassReport, type PassRequest, type StoreLookup } from '@shardsync/reconcile';
import type { CliContext } from '../context.js';
import { InterruptedError } from '../errors.js';
import type { Progress } from '../progress.js';
import { tombstoneGraceFromEnv } from './common.js';
import { passLeases, type PassLeases } from './pass-lease.js';
import { formatBytes } from '../units.js';

/** Shows a pass's phases on the progress line. */
export function showPassProgress(progress: Progress, dataset: string): (p: PassProgress) => void {
  const listed = new Map<string, number>();
  return (p) => {
    switch (p.phase) {
      case 'list': {
        listed.set(p.datacenter, p.objects + p.tombstones);
        const total = [...listed.values()].reduce((a, b) => a + b, 0);
        progress.update(`${dataset}: listing`, total, undefined, [...listed].map(([dc, n]) => `${dc}=${n}`).join(' '));
        break;
      }
      case 'deep':
        progress.update(`${dataset}: re-reading ${p.datacenter}`, p.objects, p.totalObjects, formatBytes(p.bytes));
        break;
      case 'compare':
        progress.update(`${dataset}: ${p.divergentKeys} divergent key(s)`, 0, undefined);
        break;
      case 'repair':
        progress.update(`${dataset}: reconciling keys`, p.done, p.total);
        break;
    }
  };
}

/**
 * Runs passes one after the other (datasets share the stores' sockets), with progress, each that
 * repairs holding its dataset's pass lock. `stores` default to the context's; `reconcile --key`
 * gives stores whose listings hold only its keys.
 */
export async function runPasses(ctx: CliContext, requests: readonly PassRequest[], leases: PassLeases, stores: StoreLookup = ctx.stores()): Promise<PassReport[]> {
  const reports: PassReport[] = [];
  for (const request of requests) {
    const pass = (): Promise<PassReport> =>
      runPass({
        ...request,
        topology: ctx.topology,
        stores,
        tombstoneGraceMs: tombstoneGraceFromEnv(ctx.env),
        signal: ctx.signal,
        now: ctx.now,
        onProgress: showPassProgress(ctx.progress, request.dataset),
      });
    try {
      // A dry run writes nothing: it runs beside any other pass.
      reports.push(await (request.dryRun === true ? pass() : leases.holding(request.dataset, pass)));
    } catch (err) {
      // Ctrl-C surfaces as whatever the pass was doing when it stopped (a store request or the pass
      // "aborted", not retriable): say it was the operator's interruption and what it left behind.
      if (ctx.signal?.aborted === true) throw interrupted(request, reports.length, requests.length);
      throw err;
    } finally {
      ctx.progress.stop();
    }
  }
  return reports;
}

function interrupted(request: PassRequest, finished: number, total: number): InterruptedError {
  const done = request.dryRun === true ? 'a dry run changes nothing' : 'copies repaired before the interruption stay repaired';
  return new InterruptedError(
    `interrupted during the pass of dataset ${request.dataset} (${finished} of ${total} pass(es) finished); ${done}, and no report of this run was recorded`,
    'run the same command again: a pass compares the stores first, so it continues where they stand',
  );
}

/** Passes run by {@link runLockedPasses}, and why some ran without their dataset's pass lock. */
export interface LockedPasses {
  readonly reports: PassReport[];
  readonly lockWarnings: readonly string[];
}

/**
 * {@link runPasses} holding the pass lock of each dataset it repairs, refused up front
 * (SHARDSYNC_CLI_CONFLICT) when another pass holds one; `ignoreLock` runs without them.
 */
export async function runLockedPasses(ctx: CliContext, requests: readonly PassRequest[], ignoreLock: boolean, stores?: StoreLookup): Promise<LockedPasses> {
  const leases = await passLeases(ctx, ignoreLock);
  try {
    await leases.assertFree(requests.filter((r) => r.dryRun !== true).map((r) => r.dataset));
    const reports = await runPasses(ctx, requests, leases, stores);
    return { reports, lockWarnings: leases.warnings };
  } finally {
    await leases.close();
  }
}

/** Whether a pass covered its whole dataset, so its report may stand as "the last pass" in the history. */
export function coversDataset(ctx: CliContext, report: PassReport): boolean {
  const dataset = ctx.topology.datasets.find((d) => d.name === report.dataset);
  return report.prefix === '' && dataset !== undefined && dataset.datacenters.every((dc) => report.datacenters.includes(dc));
}
