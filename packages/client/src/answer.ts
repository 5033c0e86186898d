import { RETRIABLE_STATUSES, ShardsyncClientError } from './errors.js';
import type { HttpAnswer } from './transport.js';
import type { Accepted } from './types.js';

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}

function isAccepted(value: unknown): value is Accepted {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.eventId === 'string' &&
    typeof v.dataset === 'string' &&
    typeof v.key === 'string' &&
    typeof v.version === 'string' &&
    (typeof v.sha256 === 'string' || v.sha256 === null) &&
    typeof v.size === 'number'
  );
}

/** A 202's body as the typed answer. A malformed one is not retried: the update may have been emitted. */
export function acceptedFrom(answer: HttpAnswer, what: string): Accepted {
  return acceptedFromValue(parseJson(answer.body), answer.status, what, () => answer.body);
}

/** {@link acceptedFrom} for an answer already parsed (an item of a batch answer). */
export function acceptedFromValue(value: unknown, status: number, what: string, raw: () => string): Accepted {
  if (!isAccepted(value)) {
    throw new ShardsyncClientError(
      'SHARDSYNC_CLIENT_BAD_RESPONSE',
      `${what}: the producer answered 202 but not with {eventId, dataset, key, version, sha256, size}: ${snippet(raw())}; the update may have been accepted, retry with the same idempotencyKey to find out`,
      { status, retriable: false },
    );
  }
  const { eventId, dataset, key, version, sha256, size } = value;
  return { eventId, dataset, key, version, sha256, size };
}

/**
 * The error an answer other than 202 stands for: the producer's `{ error, message }` with its code,
 * or SHARDSYNC_CLIENT_BAD_RESPONSE for anything else (a proxy's page). Retriable by status.
 */
export function errorFrom(answer: HttpAnswer, what: string): ShardsyncClientError {
  return errorFromValue(parseJson(answer.body), answer.status, what, () => answer.body);
}

/** {@link errorFrom} for an answer already parsed (an item of a batch answer). */
export function errorFromValue(value: unknown, status: number, what: string, raw: () => string): ShardsyncClientError {
  const retriable = RETRIABLE_STATUSES.has(status);
  // Only the producer's own codes: a web framework's or a proxy's JSON error ({"error": "Not Found"})
  // is not a shardsync answer, and its "code" would hide that the request went somewhere else.
  const code = typeof value === 'object' && value !== null ? (value as { error?: unknown }).error : undefined;
  if (typeof code === 'string' && code.startsWith('SHARDSYNC_')) {
    const { error, message } = value as { error: string; message?: unknown };
    const detail = typeof message === 'string' ? message : 'no message';
    return new ShardsyncClientError(error, `${what}: ${detail}`, { status, retriable });
  }
  const unexpected = status >= 200 && status < 300 ? `an unexpected ${status}` : `HTTP ${status}`;
  return new ShardsyncClientError('SHARDSYNC_CLIENT_BAD_RESPONSE', `${what}: ${unexpected} that is not a shardsync answer (is baseUrl the producer?): ${snippet(raw())}`, {
    status,
    retriable,
  });
}
