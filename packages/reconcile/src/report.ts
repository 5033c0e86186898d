import { addCounts, type RequestCounts } from './counting.js';
import type { FailureInfo } from './errors.js';
import type { CopyStatus, KeyOutcome } from './model.js';
import type { CompiledPassRequest } from './options.js';
import type { ScanStats } from './scan.js';

/** Identifies the report layout, so a reader can refuse one it does not know. */
export const PASS_REPORT_FORMAT = 'shardsync.reconcile-report.v1';

/** Divergent keys kept in a report (with their per-datacenter outcome); the counts cover all. */
export const MAX_REPORTED_KEYS = 1000;
/** Failures kept in a report; the counts cover all. */
export const MAX_REPORTED_FAILURES = 100;

/** What the comparison phase of a pass produced: plain JSON, stored with a distributed pass until its ranges finish. */
export interface PassScanSummary {
  readonly passId: string;
  readonly request: CompiledPassRequest;
  readonly startedAtMs: number;
  readonly datacenters: ReadonlyArray<{ readonly datacenter: string; readonly stats: ScanStats; readonly treeEntries: number }>;
  readonly divergentKeys: number;
  readonly differingBuckets: number;
  readonly comparisons: number;
  readonly candidateKeys: number;
}

/**
 * Per-datacenter counts of a pass. Every key the datacenter lists is counted once in `scanned` and
 * once in exactly one of `equal`, `stale`, `corrupt`, `shouldBeDeleted` or `unmanaged`, so
 * `scanned = equal + stale + corrupt + shouldBeDeleted + unmanaged`; `missing` counts keys it
 * should hold and lists nothing for. A deleted key counts like any other: its tombstone is what
 * the datacenter holds for it. `objects` and `tombstones` say what the listing held.
 */
export interface DatacenterCounts {
  readonly datacenter: string;
  /**
   * Keys the datacenter lists an object or a live tombstone for (a key with both counts once).
   * Tombstones past the grace period are left out, as the comparison ignores them.
   */
  scanned: number;
  /** Objects listed. */
  objects: number;
  /** Tombstones listed, expired ones included. */
  tombstones: number;
  /** Of the scanned keys, those holding the winning state: the winning object, or the winning delete's tombstone. */
  equal: number;
  /** Keys the datacenter should hold (an object, or a live tombstone) and lists nothing for; not part of `scanned`. */
  missing: number;
  /** Scanned keys holding an older version, an object overwritten by hand, or a leftover tombstone next to the winning object. */
  stale: number;
  /** Scanned keys holding the winning version with rotten bytes (deep mode). */
  corrupt: number;
  /** Scanned keys holding an object although a newer delete won. */
  shouldBeDeleted: number;
  /** Scanned keys holding an object shardsync never wrote, with no version of the key anywhere. */
  unmanaged: number;
  repaired: number;
  failed: number;
  /** Divergent copies left as they are: dry run, not a target datacenter, or unmanaged under the `report` policy. */
  notRepaired: number;
  /** Deep mode: objects and bytes re-read. */
  deepObjects: number;
  deepBytes: number;
}

/** The report of one pass, as JSON. `renderPassReport` prints it as a table. */
export interface PassReport {
  readonly format: typeof PASS_REPORT_FORMAT;
  readonly passId: string;
  readonly dataset: string;
  readonly prefix: string;
  readonly datacenters: readonly string[];
  readonly targets: readonly string[];
  readonly dryRun: boolean;
  readonly deep: boolean;
  readonly unmanagedPolicy: CompiledPassRequest['unmanaged'];
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly perDatacenter: readonly DatacenterCounts[];
  readonly totals: Omit<DatacenterCounts, 'datacenter'>;
  /** Keys whose copies differed somewhere. */
  readonly divergentKeys: number;
  /** Copies still divergent after the pass (failed, dry run, skipped); 0 means the datacenters agree. */
  readonly remaining: number;
  /** True when no divergence remains: a second pass would find nothing to repair. */
  readonly converged: boolean;
  readonly bytesMoved: number;
  /** Requests beyond listing (and beyond deep reads): the drill-down's HEADs and the repairs. */
  readonly requests: RequestCounts & { readonly total: number };
  readonly requestsPerDivergentKey: number;
  readonly tree: { readonly comparisons: number; readonly differingBuckets: number; readonly candidateKeys: number };
  readonly failures: ReadonlyArray<{ readonly key: string; readonly datacenter: string } & FailureInfo>;
  /** Divergent keys with each datacenter's outcome (at most {@link MAX_REPORTED_KEYS}). */
  readonly keys: readonly KeyOutcome[];
  readonly keysTruncated: boolean;
}

const STATUS_FIELDS: Record<Exclude<CopyStatus, 'equal'>, keyof DatacenterCounts> = {
  missing: 'missing',
  stale: 'stale',
  corrupt: 'corrupt',
  shouldBeDeleted: 'shouldBeDeleted',
  unmanaged: 'unmanaged',
};

function zero(datacenter: string): DatacenterCounts {
  return { datacenter, scanned: 0, objects: 0, tombstones: 0, equal: 0, missing: 0, stale: 0, corrupt: 0, shouldBeDeleted: 0, unmanaged: 0, repaired: 0, failed: 0, notRepaired: 0, deepObjects: 0, deepBytes: 0 };
}

/**
 * Builds a pass's report from its comparison summary and the outcomes of its divergent keys.
 * Outcomes may come from several range jobs, some of them retried: the last outcome of a key
 * counts. `unprocessedKeys` are divergent keys whose range never reported (a job that failed for
 * good); they count as remaining divergence.
 */
export function buildPassReport(scan: PassScanSummary, outcomes: readonly KeyOutcome[], finishedAtMs: number, unprocessedKeys = 0): PassReport {
  const byKey = new Map<string, KeyOutcome>();
  for (const o of outcomes) byKey.set(o.key, o);
  const counts = new Map(scan.datacenters.map((d) => [d.datacenter, zero(d.datacenter)]));
  for (const { datacenter, stats, treeEntries } of scan.datacenters) {
    const c = counts.get(datacenter);
    if (c === undefined) continue;
    // The digest tree holds exactly the keys with an object or a live tombstone, each once.
    c.scanned = treeEntries;
    c.objects = stats.objects;
    c.tombstones = stats.tombstones;
    c.equal = treeEntries;
    c.deepObjects = stats.deepObjects;
    c.deepBytes = stats.deepBytes;
  }
  const requests: RequestCounts = { head: 0, get: 0, put: 0, copy: 0, delete: 0, list: 0 };
  const failures: Array<{ key: string; datacenter: string } & FailureInfo> = [];
  let bytesMoved = 0;
  let remaining = unprocessedKeys;
  for (const outcome of byKey.values()) {
    bytesMoved += outcome.bytesMoved;
    addCounts(requests, outcome.requests);
    for (const [datacenter, copy] of Object.entries(outcome.copies)) {
      const c = counts.get(datacenter);
      if (c === undefined) continue;
      if (copy.status !== 'equal') {
        (c[STATUS_FIELDS[copy.status]] as number)++;
        // Every divergent status but `missing` is a scanned key that is not equal. (A key whose only
        // entry is an expired tombstone is not scanned; the floor keeps such a rare stale copy from
        // making `equal` negative.)
        if (copy.status !== 'missing') c.equal = Math.max(0, c.equal - 1);
      }
      if (copy.result === 'repaired') c.repaired++;
      else if (copy.result === 'failed') c.failed++;
      else if (copy.result === 'planned' || copy.result === 'skipped') c.notRepaired++;
      if (copy.result === 'failed' || copy.result === 'planned' || copy.result === 'skipped') remaining++;
      // Only what is still failed: a conflict the next round settled (superseded) is no failure.
      if (copy.result === 'failed' && copy.failure !== undefined && failures.length < MAX_REPORTED_FAILURES) failures.push({ key: outcome.key, datacenter, ...copy.failure });
    }
  }
  const perDatacenter = [...counts.values()];
  const totals = perDatacenter.reduce((sum, c) => {
    for (const field of Object.keys(sum) as (keyof typeof sum)[]) sum[field] += c[field];
    return sum;
  }, withoutName(zero('')));
  const keys = [...byKey.values()];
  const divergentKeys = Math.max(scan.divergentKeys, byKey.size);
  const total = requests.head + requests.get + requests.put + requests.copy + requests.delete;
  return {
    format: PASS_REPORT_FORMAT,
    passId: scan.passId,
    dataset: scan.request.dataset,
    prefix: scan.request.prefix,
    datacenters: scan.request.datacenters,
    targets: scan.request.targets,
    dryRun: scan.request.dryRun,
    deep: scan.request.deep,
    unmanagedPolicy: scan.request.unmanaged,
    startedAt: new Date(scan.startedAtMs).toISOString(),
    finishedAt: new Date(finishedAtMs).toISOString(),
    durationMs: finishedAtMs - scan.startedAtMs,
    perDatacenter,
    totals,
    divergentKeys,
    remaining,
    converged: remaining === 0,
    bytesMoved,
    requests: { ...requests, total },
    requestsPerDivergentKey: divergentKeys === 0 ? 0 : total / divergentKeys,
    tree: { comparisons: scan.comparisons, differingBuckets: scan.differingBuckets, candidateKeys: scan.candidateKeys },
    failures,
    keys: keys.slice(0, MAX_REPORTED_KEYS),
    keysTruncated: keys.length > MAX_REPORTED_KEYS,
  };
}

function withoutName(c: DatacenterCounts): Omit<DatacenterCounts, 'datacenter'> {
  const { datacenter: _datacenter, ...rest } = c;
  return rest;
}
