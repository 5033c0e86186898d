export { ShardsyncClient } from './client.js';
export {
  compileClientOptions,
  DEFAULT_BASE_URL,
  DEFAULT_BATCH,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_KEEP_ALIVE_MS,
  DEFAULT_MAX_SOCKETS,
  DEFAULT_RETRY,
  MAX_BATCH_ITEMS,
} from './options.js';
export type { BatchFormat, BatchOptions, CompiledClientOptions, RetryEvent, RetryOptions, ShardsyncClientOptions } from './options.js';
export { RETRIABLE_STATUSES, ShardsyncClientError } from './errors.js';
export type { ClientErrorCode, ProducerErrorCode, ShardsyncClientErrorOptions, ShardsyncErrorCode } from './errors.js';
export { objectPath } from './request.js';
export { backoffDelayMs } from './retry.js';
export type { Accepted, Announcement, AnnouncementSource, CallOptions, PutBody, PutOptions } from './types.js';
