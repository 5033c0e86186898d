export {
  codeOf,
  describeFailure,
  InvalidPassReportError,
  InvalidReconcileOptionsError,
  NoHealthySourceError,
  ReconcileAbortedError,
  ReconcileError,
  RepairConflictError,
  UnknownDatasetError,
} from './errors.js';
export type { FailureInfo, ReconcileErrorCode } from './errors.js';

export type {
  CopyOutcome,
  CopyState,
  CopyStatus,
  DeepCheck,
  KeyObservation,
  KeyOutcome,
  ListedState,
  ObjectCopy,
  ObservedInfo,
  RepairAction,
  RepairResult,
  TombstoneCopy,
  WinnerSummary,
} from './model.js';

export {
  compilePassRequest,
  createReconcileContext,
  DEFAULT_ADOPT_PRODUCER_ID,
  DEFAULT_DEEP_BYTES_PER_SECOND,
  DEFAULT_TOMBSTONE_GRACE_MS,
} from './options.js';
export type { CompiledPassRequest, PassOptions, PassProgress, PassRequest, ReconcileContext, StoreLookup, UnmanagedPolicy } from './options.js';

export { TokenBucket } from './budget.js';
export type { TokenBucketOptions } from './budget.js';

export { fingerprintOf, isExpired } from './fingerprint.js';
export { createRemoteView, DatacenterScan, scanDatacenter } from './scan.js';
export type { DatacenterView, FlaggedKey, ScanOptions, ScanStats } from './scan.js';
export { findDivergence } from './compare.js';
export type { Divergence } from './compare.js';

export { decideKey } from './decide.js';
export type { CopyDecision, DecideOptions, KeyDecision, Winner } from './decide.js';
export { reconcileKey } from './reconcile-key.js';
export { hasRetriableFailure, mergeRetriedOutcome } from './outcome.js';

export { reconcileKeys, runPass, scanPass, splitIntoRanges } from './pass.js';
export type { KeyRange, PassScan } from './pass.js';

export { buildPassReport, MAX_REPORTED_FAILURES, MAX_REPORTED_KEYS, PASS_REPORT_FORMAT } from './report.js';
export type { DatacenterCounts, PassReport, PassScanSummary } from './report.js';
export { formatBytes, formatDuration, renderPassReport } from './render.js';

export { inspectKey } from './inspect.js';
export type { InspectedCopy, InspectKeyOptions, KeyInspection } from './inspect.js';

export { lastPassSummary, parsePassReport, passHistoryKey, recentPasses, recordPass } from './history.js';
export type { PassHistoryOptions, PassHistoryRedis } from './history.js';

export { addCounts, CountingStore, RequestCounter } from './counting.js';
export type { RequestCounts } from './counting.js';

export { CLI_HOLDER_PREFIX, createPassLock, passLockKey } from './pass-lock.js';
export type { HolderRunning, PassLock, PassLockRedis } from './pass-lock.js';
