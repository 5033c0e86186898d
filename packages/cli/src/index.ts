export { runCli, type CliIO, type CliStream } from './program.js';
export { CliContext, type CliContextOptions, type KafkaAdmin, type KafkaClient } from './context.js';
export { CliError, InterruptedError, InvalidArgumentError, UsageError, describeError, type CliErrorCode, type DescribedError } from './errors.js';
export { ExitCode } from './exit-codes.js';
export { formatError, formatResult, type CommandResult } from './output.js';
export { formatProgressLine, silentProgress, TerminalProgress, type Progress } from './progress.js';
export { renderFields, renderTable, type Column } from './table.js';
export {
  formatBytes,
  formatCount,
  formatDuration,
  formatRate,
  parseDuration,
  parseInteger,
  parseNumber,
  parseRate,
  parseSize,
} from './units.js';

export { status, renderStatus, type DatacenterStatus, type StatusOptions, type StatusReport } from './commands/status.js';
export { reconcile, renderReconcile, passRequests, type ReconcileOptions, type ReconcileResult } from './commands/reconcile.js';
export { verify, renderVerify, type VerifyOptions, type VerifyReport } from './commands/verify.js';
export { dlqList, renderDlqList, type DlqListOptions, type DlqListReport } from './commands/dlq-list.js';
export { dlqReplay, renderDlqReplay, type DlqReplayOptions, type DlqReplayReport } from './commands/dlq-replay.js';
export { dlqDiscard, renderDlqDiscard, type DlqDiscardOptions, type DlqDiscardReport } from './commands/dlq-discard.js';
export { bootstrap, renderBootstrap, type BootstrapOptions, type BootstrapResult } from './commands/bootstrap.js';
export { plan, parsePlanArgs, renderPlan, type PlanArgs } from './commands/plan.js';
export { init, renderInit, type InitReport } from './commands/init.js';
export { lastPassSummaries, historyOptions, type LastPassStatus, type LastPassSummary } from './commands/last-pass.js';

export { planReplication, compilePlanInput, DEFAULT_CONCURRENCY, DEFAULT_TCP_WINDOW_BYTES, type Plan, type PlanInput } from './plan/model.js';
export {
  DLQ_REPLAY_GROUP,
  MAX_REPLAY_RANGES,
  discardedCount,
  encodeReplayState,
  isDiscarded,
  isReplayed,
  letterState,
  parseReplayState,
  pendingCount,
  ReplayTracker,
  type LetterState,
  type OffsetRange,
  type ReplayState,
} from './dlq/replay-state.js';
export { describeFilter, identityOf, isFiltered, matchesFilter, type DeadLetterFilter, type DeadLetterView } from './dlq/letters.js';
export { formatPositions, parsePositions, type LetterPositions } from './dlq/positions.js';
export { consumerGroupOf } from './kafka/offsets.js';
export { readRanges, READER_GROUP_PREFIX, type PartitionRange, type ReadRangesOptions, type ReadSession } from './kafka/topic-reader.js';
