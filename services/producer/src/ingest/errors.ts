import { ProducerError } from '../errors.js';
import type { UnsettledEvent } from '../idempotency/store.js';
import type { Accepted } from './types.js';

/**
 * The append of an event failed after it may have reached the log (a timeout, a lost
 * connection): 503 like any Kafka outage, but carrying the event and the answer it would have
 * had, so an Idempotency-Key's retry sends this very event again instead of a second update.
 */
export class MaybeAppendedError extends ProducerError {
  readonly event: UnsettledEvent;
  readonly accepted: Accepted;

  constructor(event: UnsettledEvent, accepted: Accepted, options: { cause: unknown }) {
    const detail = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(
      'SHARDSYNC_UNAVAILABLE',
      `Kafka did not confirm event ${accepted.eventId} (${detail}); it may be appended all the same. A retry with the same Idempotency-Key sends this very event again (version ${accepted.version}) instead of a second update; one without a key emits a new update`,
      options,
    );
    this.event = event;
    this.accepted = accepted;
  }
}

interface CodedError {
  code?: unknown;
  retriable?: unknown;
  message?: unknown;
}

/**
 * Maps what the store, the event log or the integrity checks threw to the API's errors:
 * anything retriable is "try again later" (503), a digest mismatch is the client's (400).
 */
export function toApiError(err: unknown, what: string): ProducerError {
  // Our own error (e.g. the body limit) may come back wrapped by the store that read the body.
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth += 1) {
    if (e instanceof ProducerError) return e;
  }
  const e = (typeof err === 'object' && err !== null ? err : {}) as CodedError;
  const detail = typeof e.message === 'string' ? e.message : String(err);
  if (e.code === 'SHARDSYNC_CHECKSUM_MISMATCH') {
    return new ProducerError('SHARDSYNC_CHECKSUM_MISMATCH', `the body does not match x-shardsync-sha256: ${detail}`, { cause: err });
  }
  if (e.code === 'SHARDSYNC_SIZE_MISMATCH') {
    return new ProducerError('SHARDSYNC_INVALID_REQUEST', `the body length differs from Content-Length: ${detail}`, { cause: err });
  }
  if (e.retriable === true) {
    return new ProducerError('SHARDSYNC_UNAVAILABLE', `${what} is unavailable, try again: ${detail}`, { cause: err });
  }
  return new ProducerError('SHARDSYNC_INTERNAL', `${what} failed: ${detail}`, { cause: err });
}
