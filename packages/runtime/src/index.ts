export { createLogger, logTo, type Logger } from './logger.js';
export { LruMap } from './lru.js';
export { retry, backoffDelay, sleep, isRetriable, abortReason, type RetryOptions } from './retry.js';
export { Shutdown, type ShutdownStep } from './shutdown.js';
export { registerOpsRoutes, startOpsServer, checkReadiness, type ReadinessCheck, type ReadinessReport } from './ops-server.js';
