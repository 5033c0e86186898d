import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/** The producer's 202 answer. */
export interface Accepted {
  readonly eventId: string;
  readonly version: string;
  readonly sha256?: string;
  readonly size?: number;
}

export class ProducerRequestError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = 'ProducerRequestError';
    this.status = status;
  }
}

const RETRIABLE = new Set([502, 503, 504]);

/**
 * A few lines of plain `fetch` against the producer's HTTP API, as a microservice without the
 * client package would write them: an Idempotency-Key per operation, so a retry after a lost
 * answer or a 503 never emits a second event.
 */
export class ProducerClient {
  readonly #baseUrl: string;
  readonly #token: string;
  readonly #attempts: number;

  /**
   * @param attempts in all, the first included. Generous: at its limit of uploads being staged
   *   (SHARDSYNC_PRODUCER_MAX_UPLOADS) the producer answers 503 until one of them finishes, which
   *   for a large shard on a busy machine takes seconds; backoff waits are capped at 4 s.
   */
  constructor(baseUrl: string, token: string, attempts = 12) {
    this.#baseUrl = baseUrl;
    this.#token = token;
    this.#attempts = attempts;
  }

  #url(dataset: string, key: string): string {
    return `${this.#baseUrl}/v1/objects/${encodeURIComponent(dataset)}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }

  async put(dataset: string, key: string, body: Uint8Array, contentType = 'application/octet-stream', signal?: AbortSignal): Promise<Accepted & { sha256: string }> {
    const sha256 = createHash('sha256').update(body).digest('hex');
    const accepted = await this.#send('PUT', dataset, key, { 'content-type': contentType, 'x-shardsync-sha256': sha256 }, body, signal);
    if (accepted.sha256 !== undefined && accepted.sha256 !== sha256) throw new Error(`PUT ${dataset}/${key}: the producer computed SHA-256 ${accepted.sha256}, the body has ${sha256}`);
    return { ...accepted, sha256 };
  }

  async delete(dataset: string, key: string, signal?: AbortSignal): Promise<Accepted> {
    return this.#send('DELETE', dataset, key, {}, undefined, signal);
  }

  async #send(method: 'PUT' | 'DELETE', dataset: string, key: string, headers: Record<string, string>, body: Uint8Array | undefined, signal: AbortSignal | undefined): Promise<Accepted> {
    const idempotencyKey = randomUUID();
    let last: unknown;
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      signal?.throwIfAborted();
      try {
        const res = await fetch(this.#url(dataset, key), {
          method,
          headers: { authorization: `Bearer ${this.#token}`, 'idempotency-key': idempotencyKey, ...headers },
          ...(body === undefined ? {} : { body }),
          ...(signal === undefined ? {} : { signal }),
        });
        const text = await res.text();
        if (res.status === 202) return JSON.parse(text) as Accepted;
        last = new ProducerRequestError(`${method} ${dataset}/${key} answered ${res.status}: ${text.slice(0, 500)}`, res.status);
        if (!RETRIABLE.has(res.status)) throw last;
      } catch (err) {
        if (err instanceof ProducerRequestError && !RETRIABLE.has(err.status)) throw err;
        if (signal?.aborted === true) throw err;
        last = err;
      }
      if (attempt < this.#attempts) await sleep(Math.min(4_000, 200 * 2 ** attempt) * (0.5 + Math.random()));
    }
    throw last instanceof Error ? last : new Error(String(last));
  }
}
