/** Stable codes for every failure this package reports, so the CLI, the service and scripts can match on them. */
export type ReconcileErrorCode =
  | 'SHARDSYNC_RECONCILE_INVALID_OPTIONS'
  | 'SHARDSYNC_RECONCILE_UNKNOWN_DATASET'
  | 'SHARDSYNC_RECONCILE_NO_HEALTHY_SOURCE'
  | 'SHARDSYNC_RECONCILE_CONFLICT'
  | 'SHARDSYNC_RECONCILE_ABORTED'
  | 'SHARDSYNC_RECONCILE_INVALID_REPORT';

/** Base class of every error this package throws. `retriable` says whether trying again later can help. */
export class ReconcileError extends Error {
  readonly code: ReconcileErrorCode;
  readonly retriable: boolean;

  constructor(code: ReconcileErrorCode, message: string, options: { retriable: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = 'ReconcileError';
    this.code = code;
    this.retriable = options.retriable;
  }
}

/** Pass options that cannot work (unknown datacenter, negative budget, ...). Not retriable: fix the call. */
export class InvalidReconcileOptionsError extends ReconcileError {
  constructor(message: string) {
    super('SHARDSYNC_RECONCILE_INVALID_OPTIONS', message, { retriable: false });
    this.name = 'InvalidReconcileOptionsError';
  }
}

/** The dataset is not in the topology. Not retriable: fix the name or the topology. */
export class UnknownDatasetError extends ReconcileError {
  constructor(dataset: string, known: readonly string[]) {
    super('SHARDSYNC_RECONCILE_UNKNOWN_DATASET', `dataset ${JSON.stringify(dataset)} is not in the topology; known datasets: ${known.join(', ')}`, {
      retriable: false,
    });
    this.name = 'UnknownDatasetError';
  }
}

/**
 * Every copy of the winning version is corrupt or unreadable, so there is nothing to repair from.
 * Not retriable by the reconciler: the winning bytes are gone everywhere (restore them from a
 * backup, or have the producer write the key again, which gives it a newer version).
 */
export class NoHealthySourceError extends ReconcileError {
  constructor(message: string, cause?: unknown) {
    super('SHARDSYNC_RECONCILE_NO_HEALTHY_SOURCE', message, { retriable: false, cause });
    this.name = 'NoHealthySourceError';
  }
}

/**
 * The key kept changing while it was being repaired (a consumer applying newer versions), more
 * often than the repair re-reads it. Retriable: a later attempt finds it settled, usually
 * already equal everywhere.
 */
export class RepairConflictError extends ReconcileError {
  constructor(message: string, cause?: unknown) {
    super('SHARDSYNC_RECONCILE_CONFLICT', message, { retriable: true, cause });
    this.name = 'RepairConflictError';
  }
}

/** The caller's signal aborted the pass. Not retriable: the caller asked to stop. */
export class ReconcileAbortedError extends ReconcileError {
  constructor(message: string, cause?: unknown) {
    super('SHARDSYNC_RECONCILE_ABORTED', message, { retriable: false, cause });
    this.name = 'ReconcileAbortedError';
  }
}

/** A stored pass report does not have the expected shape (another version wrote it, or it is corrupt). */
export class InvalidPassReportError extends ReconcileError {
  constructor(message: string) {
    super('SHARDSYNC_RECONCILE_INVALID_REPORT', message, { retriable: false });
    this.name = 'InvalidPassReportError';
  }
}

/** A failure as reports carry it: stable code, message, and whether a later attempt may succeed. */
export interface FailureInfo {
  readonly code: string;
  readonly message: string;
  readonly retriable: boolean;
}

/**
 * Turns any thrown value into a {@link FailureInfo}; never throws. Errors of other shardsync
 * packages keep their `code` and `retriable` flag; anything else is `SHARDSYNC_UNEXPECTED` and
 * not retriable, so an unknown failure is surfaced instead of retried forever.
 */
export function describeFailure(err: unknown): FailureInfo {
  if (typeof err === 'object' && err !== null) {
    const { code, retriable, message } = err as { code?: unknown; retriable?: unknown; message?: unknown };
    return {
      code: typeof code === 'string' && code.startsWith('SHARDSYNC_') ? code : 'SHARDSYNC_UNEXPECTED',
      message: typeof message === 'string' ? message : Object.prototype.toString.call(err),
      retriable: retriable === true,
    };
  }
  return { code: 'SHARDSYNC_UNEXPECTED', message: String(err), retriable: false };
}

/** The stable code of any error (`SHARDSYNC_UNEXPECTED` when it has none). */
export function codeOf(err: unknown): string {
  return describeFailure(err).code;
}
