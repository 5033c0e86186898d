import { runPass, type PassProgress, type PassReport, type PassRequest, type StoreLookup } from '@shardsync/reconcile';
import type { CliContext } from '../context.js';
import type { Progress } from '../progress.js';
import { tombstoneGraceFromEnv } from './common.js';
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
 * Runs passes one after the other (datasets share the stores' sockets), with progress. `stores`
 * default to the context's; `reconcile --key` gives stores whose listings hold only its keys.
 */
export async function runPasses(ctx: CliContext, requests: readonly PassRequest[], stores: StoreLookup = ctx.stores()): Promise<PassReport[]> {
  const reports: PassReport[] = [];
  for (const request of requests) {
    reports.push(
      await runPass({
        ...request,
        topology: ctx.topology,
        stores,
        tombstoneGraceMs: tombstoneGraceFromEnv(ctx.env),
        signal: ctx.signal,
        now: ctx.now,
        onProgress: showPassProgress(ctx.progress, request.dataset),
      }),
    );
    ctx.progress.stop();
  }
  return reports;
}

/** Whether a pass covered its whole dataset, so its report may stand as "the last pass" in the history. */
export function coversDataset(ctx: CliContext, report: PassReport): boolean {
  const dataset = ctx.topology.datasets.find((d) => d.name === report.dataset);
  return report.prefix === '' && dataset !== undefined && dataset.datacenters.every((dc) => report.datacenters.includes(dc));
}
