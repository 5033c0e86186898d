import { BATCH_FORMATS_HEADER, BATCH_FRAME_CONTENT_TYPE, encodeBatchFrame } from '@shardsync/batch-wire';
import { errorFrom, parseJson, snippet } from './answer.js';
import { bodySource } from './body.js';
import { abortError, classifyNetworkError, ShardsyncClientError } from './errors.js';
import type { BatchFormat, BatchOptions } from './options.js';
import { retryAfterMs } from './retry.js';
import { DEFAULT_MAX_ANSWER_BYTES, type HttpAnswer, type Transport } from './transport.js';

/** One update of a `POST /v1/batch` (README "Producer HTTP API"), its body still apart. */
export type BatchWireItem =
  | {
      operation: 'put';
      dataset: string;
      key: string;
      body: Buffer;
      sha256?: string | undefined;
      contentType?: string | undefined;
      metadata?: Record<string, string> | undefined;
      idempotencyKey: string;
    }
  | { operation: 'delete'; dataset: string; key: string; idempotencyKey: string };

/** What became of one item: the producer's answer for it, or why the request carrying it got none. */
export type ItemOutcome =
  | { kind: 'answer'; status: number; value: unknown }
  | { kind: 'failed'; error: ShardsyncClientError; serverAskedMs?: number | undefined };

interface Pending {
  item: BatchWireItem;
  /** Bytes the item adds to the request body (about). */
  size: number;
  /** Settles the call's outcome once; later outcomes (the answer to an item aborted on the wire) are ignored. */
  settle: (outcome: ItemOutcome) => void;
}

const PATH = '/v1/batch';
/**
 * Answer bytes allowed per item of a batch, on top of {@link DEFAULT_MAX_ANSWER_BYTES} for the
 * whole: a 1000-item answer is legitimately far over 1 MiB. An item's result is either
 * `{status, eventId, dataset, key, version, sha256, size}`, its key up to 1024 UTF-8 bytes (up to
 * 6 bytes each once JSON escapes control characters: about 6 KiB), or `{status, error, message}`,
 * whose message quotes at most 80 characters of a refused key or dataset, the idempotency key or
 * the known datasets. 16 KiB covers the largest with room, and still bounds what a runaway answer
 * can hold.
 */
const ANSWER_BYTES_PER_ITEM = 16 * 1024;
/** `,"body":""` or `"bodyLength":<n>,`, the comma between items, and the envelope (`SSB1`, its length, `{"items":[]}`). */
const ITEM_ALLOWANCE_BYTES = 64;

/** Most answer bytes read for a request of `items` items; a longer answer is cut off there. */
function answerLimitBytes(items: number): number {
  return DEFAULT_MAX_ANSWER_BYTES + items * ANSWER_BYTES_PER_ITEM;
}

/** Fewer items than this are not split over several requests: each request has its own cost. */
const MIN_SPLIT_ITEMS = 8;
/**
 * After a producer without the binary form refused it, batches go in the JSON form for this long,
 * then the binary form is tried again: a rolling upgrade of the producers ends, and the cheaper
 * form comes back without a restart, at the cost of one refused request per interval until then.
 */
const JSON_FALLBACK_MS = 60_000;

/**
 * Coalesces updates into `POST /v1/batch` requests, the way a Kafka producer fills record
 * batches: items submitted while a request is being prepared or while every request slot is busy
 * travel in the next one. Nothing waits on a timer: a lone item goes out on the next turn of the
 * event loop, so batching costs no latency when there is no concurrency.
 */
export class Batcher {
  readonly #transport: Transport;
  readonly #limits: Required<BatchOptions>;
  #queue: Pending[] = [];
  #inFlight = 0;
  #scheduled = false;
  /** When a producer last refused the binary form (see {@link JSON_FALLBACK_MS}). */
  #binaryRefusedAt: number | undefined;

  constructor(transport: Transport, limits: Required<BatchOptions>) {
    this.#transport = transport;
    this.#limits = limits;
  }

  /**
   * Resolves with the item's outcome; never rejects. An abort settles the call at once with
   * SHARDSYNC_CLIENT_ABORTED: an item not sent yet is removed and never sent; one already on the
   * wire may still be applied (as with any request), its request goes on for the other items,
   * and its own answer is ignored.
   */
  submit(item: BatchWireItem, signal: AbortSignal | undefined): Promise<ItemOutcome> {
    return new Promise<ItemOutcome>((resolve) => {
      if (signal?.aborted === true) {
        resolve({ kind: 'failed', error: abortError(signal) });
        return;
      }
      let settled = false;
      let onAbort: (() => void) | undefined;
      const pending: Pending = {
        item,
        size: approximateSize(item),
        settle: (outcome) => {
          if (settled) return;
          settled = true;
          if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
          resolve(outcome);
        },
      };
      if (signal !== undefined) {
        // Listened to until the call settles, whether its item is queued or on the wire: a caller
        // gives up on its own call, not on the request it shares with other calls.
        onAbort = () => {
          const at = this.#queue.indexOf(pending);
          if (at >= 0) this.#queue.splice(at, 1);
          pending.settle({ kind: 'failed', error: abortError(signal) });
        };
        signal.addEventListener('abort', onAbort, { once: true });
      }
      this.#queue.push(pending);
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // After the current turn's microtasks: callers that continue from a resolved call join this batch.
    setImmediate(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#queue.length > 0 && this.#inFlight < this.#limits.maxRequests) {
      // Share what is queued among the free request slots: requests in flight together keep the
      // producer busy while an earlier batch waits for Kafka, instead of one batch at a time.
      const free = this.#limits.maxRequests - this.#inFlight;
      const batch = this.#take(Math.max(MIN_SPLIT_ITEMS, Math.ceil(this.#queue.length / free)));
      this.#inFlight += 1;
      void this.#send(batch).finally(() => {
        this.#inFlight -= 1;
        if (this.#queue.length > 0) this.#schedule();
      });
    }
  }

  /** The oldest items (up to `want`) that fit one request; at least one, whatever its size. */
  #take(want: number): Pending[] {
    let bytes = 0;
    let n = 0;
    while (n < this.#queue.length && n < this.#limits.maxItems && n < want) {
      const size = this.#queue[n]?.size ?? 0;
      if (n > 0 && bytes + size > this.#limits.maxBytes) break;
      bytes += size;
      n += 1;
    }
    const batch = this.#queue.slice(0, n);
    this.#queue = this.#queue.slice(n);
    return batch;
  }

  async #send(batch: Pending[]): Promise<void> {
    const what = `batch of ${batch.length} update${batch.length === 1 ? '' : 's'}`;
    let outcomes: ItemOutcome[];
    try {
      const format = this.#format();
      let answer = await this.#post(batch, format);
      if (format === 'binary' && refusesBinaryForm(answer, what)) {
        // Nothing of a request the producer could not read was emitted: the same items, readable.
        this.#binaryRefusedAt = Date.now();
        answer = await this.#post(batch, 'json');
      }
      if (answer.status === 200) {
        outcomes = itemOutcomes(answer, batch.length, what);
      } else {
        const failed: ItemOutcome = { kind: 'failed', error: errorFrom(answer, what), serverAskedMs: retryAfterMs(answer.headers['retry-after']) };
        outcomes = batch.map(() => failed);
      }
    } catch (err) {
      const failed: ItemOutcome = { kind: 'failed', error: err instanceof ShardsyncClientError ? err : classifyNetworkError(err, this.#transport.describe('POST', PATH)) };
      outcomes = batch.map(() => failed);
    }
    batch.forEach((p, i) => p.settle(outcomes[i] ?? { kind: 'failed', error: new ShardsyncClientError('SHARDSYNC_CLIENT_BAD_RESPONSE', `${what}: no answer for item ${i}`, { retriable: false }) }));
  }

  /** The configured form, unless a producer refused the binary one less than {@link JSON_FALLBACK_MS} ago. */
  #format(): BatchFormat {
    if (this.#limits.format === 'json') return 'json';
    return this.#binaryRefusedAt !== undefined && Date.now() - this.#binaryRefusedAt < JSON_FALLBACK_MS ? 'json' : 'binary';
  }

  #post(batch: readonly Pending[], format: BatchFormat): Promise<HttpAnswer> {
    const { contentType, body } = format === 'binary' ? { contentType: BATCH_FRAME_CONTENT_TYPE, body: encodeFrame(batch) } : { contentType: 'application/json', body: encodeJson(batch) };
    return this.#transport.send({
      method: 'POST',
      path: PATH,
      headers: { 'content-type': contentType },
      body: bodySource(body, undefined),
      maxAnswerBytes: answerLimitBytes(batch.length),
    });
  }
}

/**
 * Whether the answer to a binary request is that of a producer older than the binary form: a 400
 * with its invalid-request code (the frame is neither UTF-8 nor JSON to it), without the header by
 * which newer producers name the forms they read. A newer producer's 400 (a frame that does not
 * add up) carries the header and is the caller's error; a proxy's 400 has no producer code.
 */
function refusesBinaryForm(answer: HttpAnswer, what: string): boolean {
  return answer.status === 400 && answer.headers[BATCH_FORMATS_HEADER] === undefined && errorFrom(answer, what).code === 'SHARDSYNC_INVALID_REQUEST';
}

/**
 * The per-item answers of a 200. One cut off or malformed fails every item as retriable: some
 * may have been emitted, but each item carries its idempotency key, so its resend gets the first
 * answer instead of a second event.
 */
function itemOutcomes(answer: HttpAnswer, expected: number, what: string): ItemOutcome[] {
  const unreadable = (why: string): ItemOutcome[] => {
    const error = new ShardsyncClientError(
      'SHARDSYNC_CLIENT_BAD_RESPONSE',
      `${what}: the producer answered 200 but ${why}; the updates may have been accepted, so they are sent again with the same idempotency keys, which get the first answers`,
      { status: 200, retriable: true },
    );
    return Array.from({ length: expected }, () => ({ kind: 'failed', error }));
  };
  if (answer.truncated) return unreadable(`its answer was longer than the ${answerLimitBytes(expected)} bytes allowed for ${expected} items and was cut off`);
  const value = parseJson(answer.body);
  const results = typeof value === 'object' && value !== null ? (value as { results?: unknown }).results : undefined;
  const wellFormed = Array.isArray(results) && results.length === expected && results.every((r) => typeof r === 'object' && r !== null && typeof (r as { status?: unknown }).status === 'number');
  if (!wellFormed) return unreadable(`not with {results: [...]} of ${expected} items: ${snippet(answer.body)}`);
  return (results as Array<{ status: number }>).map((r) => ({ kind: 'answer', status: r.status, value: r }));
}

/**
 * The binary form of the request (`@shardsync/batch-wire`): the items described in JSON, each
 * put's body replaced by its length, then the bodies as they are: no base64 on either end.
 */
function encodeFrame(batch: readonly Pending[]): Buffer {
  const bodies: Buffer[] = [];
  const items = batch.map(({ item }) => {
    if (item.operation === 'delete') return item;
    const { body, ...rest } = item;
    bodies.push(body);
    // Added before the spread: properties after a spread take a slow path in V8 on Node 20.
    return { bodyLength: body.length, ...rest };
  });
  return encodeBatchFrame({ items }, bodies);
}

/** The JSON form, which producers older than the binary form read: bodies in base64. */
function encodeJson(batch: readonly Pending[]): Buffer {
  const items = batch.map(({ item }) => {
    if (item.operation === 'delete') return item;
    const { body, ...rest } = item;
    return { body: body.toString('base64'), ...rest };
  });
  return Buffer.from(JSON.stringify({ items }), 'utf8');
}

/**
 * Bytes the item adds to the request (an upper bound for either form): its description as JSON
 * writes it (dataset, key, idempotency key, digest, content type and metadata, escapes included),
 * its body in base64 (the JSON form's, longer than the binary form's raw bytes), and an allowance
 * for the body's field, the separator and the request's envelope.
 */
function approximateSize(item: BatchWireItem): number {
  if (item.operation === 'delete') return Buffer.byteLength(JSON.stringify(item), 'utf8') + ITEM_ALLOWANCE_BYTES;
  const { body, ...description } = item;
  return Buffer.byteLength(JSON.stringify(description), 'utf8') + Math.ceil(body.length / 3) * 4 + ITEM_ALLOWANCE_BYTES;
}
