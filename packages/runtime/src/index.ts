export { createLogger, logTo, type Logger } from './logger.js';
export { LruMap } from './lru.js';
export { retry, backoffDelay, sleep, isRetriable, abortReason, type RetryOptions } from './retry.js';
export { Shutdown, ShutdownError, ShutdownStepTimeoutError, REPEAT_SIGNAL_WINDOW_MS, closeStepBounds, closeService, type CloseStepBounds, type CloseServiceOptions, type ShutdownStep, type ShutdownOptions, type ShutdownErrorCode, type HandleSignalsOptions } from './shutdown.js';
export { runService, untilAborted, type ClosableService, type RunServiceOptions } from './run-service.js';
export { registerOpsRoutes, startOpsServer, checkReadiness, type ReadinessCheck, type ReadinessReport } from './ops-server.js';
