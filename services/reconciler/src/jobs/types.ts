import { createHash } from 'node:crypto';
import type { KeyOutcome, KeyRange, PassRequest, PassScanSummary } from '@shardsync/reconcile';

export { JOB, QUEUE_NAME } from '@shardsync/reconcile-queue';

/** A pass of one dataset. The scheduler creates it; it runs in two steps around its range jobs. */
export interface PassJobData {
  readonly request: PassRequest;
  /** Set when the scan is done and the range jobs exist; the next run of the job writes the report. */
  readonly passId?: string | undefined;
  readonly scan?: PassScanSummary | undefined;
  /** Divergent keys per range job, by range index, to count the keys of ranges that never reported. */
  readonly rangeKeys?: readonly number[] | undefined;
  /** Set once the range jobs were added: a run that finds `scan` without it compares again. */
  readonly rangesAdded?: boolean | undefined;
  /** When a deep pass first found another pass of its dataset running and was deferred (epoch ms). */
  readonly deferredSince?: number | undefined;
}

/** A slice of a pass's divergent keys, with what each datacenter listed for them. */
export interface RangeJobData {
  readonly passId: string;
  readonly request: PassRequest;
  readonly range: KeyRange;
  /** Set when the keys were handled (and counted): a later run of the job reuses them. */
  readonly outcomes?: readonly KeyOutcome[] | undefined;
  /** Set once the repair jobs of the keys to retry were added. */
  readonly repairsAdded?: boolean | undefined;
}

/** One key to read and repair again, with retries and backoff. */
export interface RepairJobData {
  readonly passId: string;
  readonly request: PassRequest;
  readonly key: string;
}

/** Deletes the staged bodies of one datacenter that are past their retention. */
export interface StagingGcJobData {
  readonly datacenter: string;
}

export interface StagingGcResult {
  readonly datacenter: string;
  readonly deleted: number;
  readonly deletedBytes: number;
  /** Staged bodies still within their retention. */
  readonly kept: number;
  /** Incomplete multipart uploads under the staging prefix aborted: begun longer ago than the retention. */
  readonly abortedUploads: number;
  /** Incomplete uploads begun within the retention (possibly still running), left alone. */
  readonly keptUploads: number;
  /** True when the store cannot list incomplete uploads, so none were looked for. */
  readonly uploadsUnsupported: boolean;
}

/** What a range job returns to its pass. */
export interface RangeResult {
  readonly index: number;
  readonly outcomes: readonly KeyOutcome[];
}

/** What a pass job returns (its full report is in the pass history). */
export interface PassResult {
  readonly passId: string;
  readonly dataset: string;
  readonly skipped?: string | undefined;
  readonly divergentKeys?: number | undefined;
  readonly remaining?: number | undefined;
  readonly converged?: boolean | undefined;
}

/** Scheduler ids: one per dataset and mode, whatever number of instances upsert them. */
export function schedulerId(dataset: string, deep: boolean): string {
  return `${deep ? 'deep-pass' : 'pass'}-${dataset}`;
}

/** Scheduler id of a datacenter's staging collection. */
export function stagingSchedulerId(datacenter: string): string {
  return `staging-gc-${datacenter}`;
}

/** Job ids of a pass's children: deterministic, so a retried step does not add them twice. BullMQ ids may not contain ":". */
export function rangeJobId(passId: string, index: number): string {
  return `${passId}-range-${index}`;
}

export function repairJobId(passId: string, key: string): string {
  return `${passId}-key-${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
}
