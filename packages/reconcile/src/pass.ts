import { setMaxListeners } from 'node:events';
import { findDivergence, type Divergence } from './compare.js';
import { mapConcurrent } from './concurrency.js';
import { ReconcileAbortedError } from './errors.js';
import type { KeyObservation, KeyOutcome } from './model.js';
import { createReconcileContext, type PassOptions, type ReconcileContext } from './options.js';
import { reconcileKey } from './reconcile-key.js';
import { buildPassReport, type PassReport, type PassScanSummary } from './report.js';
import { scanDatacenter, type DatacenterScan, type DatacenterView } from './scan.js';

/** The comparison phase of a pass: what it found and the views it found it in. */
export interface PassScan {
  readonly summary: PassScanSummary;
  readonly divergence: Divergence;
  readonly views: readonly DatacenterView[];
}

/** A slice of a pass's divergent keys: a contiguous range of digest-tree leaf buckets. Plain JSON, for job data. */
export interface KeyRange {
  readonly index: number;
  readonly firstBucket: number;
  readonly lastBucket: number;
  readonly keys: readonly KeyObservation[];
}

function throwIfAborted(ctx: ReconcileContext): void {
  if (ctx.signal?.aborted === true) throw new ReconcileAbortedError(`pass ${ctx.passId} was aborted`, ctx.signal.reason);
}

/**
 * Lists every compared datacenter (at once), builds their digest trees and finds the divergent
 * keys. `views` lets a deployment substitute agents' summaries for some datacenters; by default
 * each datacenter is scanned from here.
 */
export async function scanPass(ctx: ReconcileContext, views?: readonly DatacenterView[]): Promise<PassScan> {
  const startedAtMs = ctx.now();
  const scanned = views ?? (await scanDatacenters(ctx, startedAtMs));
  throwIfAborted(ctx);
  const divergence = await findDivergence(scanned);
  ctx.onProgress({ phase: 'compare', differingBuckets: divergence.differingBuckets, divergentKeys: divergence.keys.length });
  const summary: PassScanSummary = {
    passId: ctx.passId,
    request: {
      dataset: ctx.dataset,
      datacenters: ctx.datacenters,
      targets: ctx.targets,
      prefix: ctx.prefix,
      dryRun: ctx.dryRun,
      deep: ctx.deep,
      bytesPerSecond: ctx.bytesPerSecond,
      unmanaged: ctx.unmanaged,
      tombstoneGraceMs: ctx.tombstoneGraceMs,
      leafBits: ctx.leafBits,
    },
    startedAtMs,
    datacenters: scanned.map((v) => ({ datacenter: v.datacenter, stats: v.stats, treeEntries: v.tree.entryCount })),
    divergentKeys: divergence.keys.length,
    differingBuckets: divergence.differingBuckets,
    comparisons: divergence.comparisons,
    candidateKeys: divergence.candidateKeys,
  };
  return { summary, divergence, views: scanned };
}

/**
 * Scans every compared datacenter at once. One that fails fails the pass, so the others are
 * stopped and waited for before it rejects: left running, their listings and (deep) body reads
 * would go on unobserved for as long as they take, spending the process's shared read budget
 * under the pass's retry.
 */
async function scanDatacenters(ctx: ReconcileContext, nowMs: number): Promise<DatacenterScan[]> {
  const stop = new AbortController();
  // Every listing and body read of every datacenter listens on it: many at once is expected, not a leak.
  setMaxListeners(0, stop.signal);
  // Linked by hand, not with AbortSignal.any: Node 20 keeps every signal that makes on its sources
  // for good, and the caller's signal may live as long as the service. The reason is passed on,
  // so a cut by the caller is still recognised as such.
  const onAbort = (): void => stop.abort(ctx.signal?.reason);
  if (ctx.signal?.aborted === true) onAbort();
  else ctx.signal?.addEventListener('abort', onAbort, { once: true });
  let failure: { err: unknown } | undefined;
  try {
    const results = await Promise.allSettled(
      ctx.datacenters.map(async (dc) => {
        try {
          const store = ctx.stores.get(dc);
          if (store === undefined) throw new Error(`no store for datacenter ${dc}`);
          return await scanDatacenter(store, {
            dataset: ctx.dataset,
            prefix: ctx.prefix,
            leafBits: ctx.leafBits,
            deep: ctx.deep ? { budget: ctx.budget } : undefined,
            nowMs,
            tombstoneGraceMs: ctx.tombstoneGraceMs,
            signal: stop.signal,
            onProgress: ctx.onProgress,
          });
        } catch (err) {
          failure ??= { err };
          stop.abort(err);
          throw err;
        }
      }),
    );
    if (failure !== undefined) throw failure.err;
    return results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  } finally {
    ctx.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Splits divergent keys (sorted by bucket, as {@link findDivergence} returns them) into ranges
 * of whole buckets with about `maxKeysPerRange` keys each, so several workers can share a pass.
 */
export function splitIntoRanges(keys: readonly KeyObservation[], maxKeysPerRange: number): KeyRange[] {
  const ranges: KeyRange[] = [];
  let current: KeyObservation[] = [];
  const flush = (): void => {
    const first = current[0];
    const last = current[current.length - 1];
    if (first === undefined || last === undefined) return;
    ranges.push({ index: ranges.length, firstBucket: first.bucket, lastBucket: last.bucket, keys: current });
    current = [];
  };
  for (const key of keys) {
    const last = current[current.length - 1];
    // Keep a bucket's keys together: a range is then exactly a bucket interval.
    if (current.length >= maxKeysPerRange && last !== undefined && last.bucket !== key.bucket) flush();
    current.push(key);
  }
  flush();
  return ranges;
}

/** Reads, decides and repairs keys, `keyConcurrency` at a time, reporting progress. */
export async function reconcileKeys(ctx: ReconcileContext, keys: readonly KeyObservation[]): Promise<KeyOutcome[]> {
  let done = 0;
  ctx.onProgress({ phase: 'repair', done, total: keys.length });
  return mapConcurrent(keys, ctx.keyConcurrency, async (observation) => {
    throwIfAborted(ctx);
    const outcome = await reconcileKey(ctx, observation.key, observation.listed);
    done++;
    ctx.onProgress({ phase: 'repair', done, total: keys.length });
    return outcome;
  });
}

/**
 * One reconciliation pass of a dataset, start to finish, in this process: list and digest every
 * datacenter, drill into the differing buckets, decide and repair each divergent key (or only
 * report, in a dry run), and report. The scheduled service runs the same phases as jobs
 * (`scanPass`, `splitIntoRanges`, `reconcileKeys`, `buildPassReport`).
 */
export async function runPass(options: PassOptions): Promise<PassReport> {
  const ctx = createReconcileContext(options);
  const scan = await scanPass(ctx);
  const outcomes = await reconcileKeys(ctx, scan.divergence.keys);
  return buildPassReport(scan.summary, outcomes, ctx.now());
}
