import { randomUUID } from 'node:crypto';
import { retry, type Logger, type RetryOptions } from '@shardsync/runtime';
import { ProducerError } from '../errors.js';
import { UnreadableRecordError, type ClaimAnswer, type ClaimRef, type CompleteOutcome, type IdempotencyStore, type IdempotentResult, type UnsettledEvent } from '../idempotency/store.js';
import type { ProducerMetrics } from '../metrics.js';
import { MaybeAppendedError, toApiError } from './errors.js';
import type { Accepted } from './types.js';

const MAX_KEY_LENGTH = 255;

/** How a store command is retried (full-jitter backoff). */
export type StoreRetry = Pick<RetryOptions, 'maxAttempts' | 'initialDelayMs' | 'maxDelayMs'>;

export interface IdempotencyOptions {
  /**
   * How a claim is retried before the request gets 503; short, because the client waits.
   * Default 3 attempts within about 0.5 s.
   */
  claimRetry?: StoreRetry;
  /**
   * How recording an answer, or releasing a claim, is retried in the background. Default 6
   * attempts within about 5 s: rides out a Redis reconnect (ioredis retries within 2 s), well
   * inside the shutdown grace period, which waits for them.
   */
  backgroundRetry?: StoreRetry;
  /** Where conflicts between requests of one key are counted. */
  metrics?: Pick<ProducerMetrics, 'idempotencyConflicts'>;
  /**
   * Appends an event again whose first append may or may not have landed (see
   * `MaybeAppendedError`); a retry of its request is answered once this resolves. Without it,
   * such a request's claim is released like any failed one's, and a retry emits a new event.
   */
  resend?: (event: UnsettledEvent) => Promise<void>;
}

const DEFAULT_CLAIM_RETRY: StoreRetry = { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 400 };
const DEFAULT_BACKGROUND_RETRY: StoreRetry = { maxAttempts: 6, initialDelayMs: 200, maxDelayMs: 2000 };

/** Why a request's own claim or answer met another request's, as counted and logged. */
export type IdempotencyConflict = 'claim-lost' | Exclude<CompleteOutcome, 'recorded'>;

const CONFLICT_MESSAGES: Record<IdempotencyConflict, string> = {
  'claim-lost': "a running request's idempotency claim expired (its keep-alive failed); a retry may claim the key and emit a second event",
  'claim-expired': "a request's idempotency claim expired before its answer was recorded; the answer was recorded all the same",
  'replaced-claim': "another request claimed the key after this request's claim expired and may emit a second event; this request's answer replaced its claim, so later retries get it",
  'answer-kept': "another request of the same Idempotency-Key recorded its answer first; retries get that answer, not this request's",
};

/**
 * What a request is, compared with the first request of its Idempotency-Key (see
 * `IdempotentResult`): `fingerprint` in the form producers before `request` existed record,
 * `request` (optional) describing it fully.
 */
export interface RequestIdentity {
  fingerprint: string;
  request?: string | undefined;
}

/** Whether a retry asks for what the recorded request did: by `request` where both have one, else as older producers compare. */
function sameRequest(first: IdempotentResult, retry: RequestIdentity): boolean {
  if (first.request === undefined || retry.request === undefined) return first.fingerprint === retry.fingerprint;
  return first.request === retry.request;
}

/** The record of a request's answer: its identity (without an absent `request`), status and body. */
function answerRecord(identity: RequestIdentity, accepted: Accepted, unsettled?: UnsettledEvent): IdempotentResult {
  const record: IdempotentResult = { fingerprint: identity.fingerprint, status: 202, body: { ...accepted } };
  if (identity.request !== undefined) record.request = identity.request;
  if (unsettled !== undefined) record.unsettled = unsettled;
  return record;
}

const ANSWER_NOT_RECORDED = 'could not record the answer of an Idempotency-Key request; its retries get 409 until the claim expires, then emit a second event';

/**
 * How often the claims of running requests are extended (all at once, by one timer; a claim is
 * first extended in the first round at least half an interval after it was made, so within 1.5
 * intervals): well inside a claim's lifetime (5 min in Redis), so an upload longer than that
 * keeps it, and a concurrent retry keeps getting 409 instead of claiming the key again and
 * emitting a second event.
 */
export const CLAIM_REFRESH_MS = 60_000;

/**
 * Makes a request with an `Idempotency-Key` run at most once per (token, key): a retry gets
 * the first answer (same event id and version) and emits nothing; a concurrent duplicate gets
 * 409 and should retry; reusing the key for a different request is refused (422).
 */
export class Idempotency {
  readonly #store: IdempotencyStore;
  readonly #ttlMs: number;
  readonly #logger: Logger;
  /** Built once, not per request: an object spread with a property after it is a slow path in V8 on Node 20. */
  readonly #claimRetry: RetryOptions;
  readonly #backgroundRetry: RetryOptions;
  readonly #metrics: IdempotencyOptions['metrics'];
  readonly #resend: IdempotencyOptions['resend'];
  /** Answers being recorded and claims being released in the background. */
  readonly #pending = new Set<Promise<void>>();
  /**
   * Claims of the requests running now, extended together by one timer every CLAIM_REFRESH_MS.
   * A timer per request was measurably dearer at many small concurrent requests (A/B at 64
   * concurrent puts: about 10% more producer CPU per update).
   */
  readonly #running = new Map<ClaimRef, number>();
  /** Answers of this event-loop turn, recorded together at its end. */
  #answers: ClaimAnswer[] = [];
  #keeper: NodeJS.Timeout | undefined;

  constructor(store: IdempotencyStore, ttlMs: number, logger: Logger, options: IdempotencyOptions = {}) {
    this.#store = store;
    this.#ttlMs = ttlMs;
    this.#logger = logger;
    // A record that is neither a claim nor an answer stays so: claiming again cannot help.
    this.#claimRetry = { ...(options.claimRetry ?? DEFAULT_CLAIM_RETRY), isRetriable: (err) => !(err instanceof UnreadableRecordError) };
    this.#backgroundRetry = { ...(options.backgroundRetry ?? DEFAULT_BACKGROUND_RETRY), isRetriable: () => true };
    this.#metrics = options.metrics;
    this.#resend = options.resend;
  }

  /** Waits until the answers and releases still under way are done or given up (the retries are bounded). */
  async close(): Promise<void> {
    this.#recordAnswers();
    await Promise.all([...this.#pending]);
  }

  /**
   * Runs `work` once per (scope, key). `identity` (a fingerprint alone, or a {@link RequestIdentity})
   * describes the request as far as it is known before its body is read; `sameBody`, given for
   * requests whose body the identity cannot describe, is asked on a retry whether this request's
   * body is the first one's (it reads it).
   */
  async run(scope: string, key: string | undefined, identity: string | RequestIdentity, work: () => Promise<Accepted>, sameBody?: (first: Accepted) => Promise<boolean>): Promise<Accepted> {
    if (key === undefined) return work();
    const asked = typeof identity === 'string' ? { fingerprint: identity } : identity;
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
      throw new ProducerError('SHARDSYNC_INVALID_REQUEST', `Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} characters`);
    }
    // Random per request: only this request may extend, release or complete the claim it makes.
    const claim: ClaimRef = { scope, key, owner: randomUUID() };
    let outcome;
    try {
      // Every attempt claims with the same owner, so an attempt that Redis ran but whose reply was
      // lost (a dropped connection) reads as ours on the next one instead of as 409 for 5 minutes.
      outcome = await retry(() => this.#store.claim(claim, this.#ttlMs), this.#claimRetry);
    } catch (err) {
      if (err instanceof UnreadableRecordError) {
        // Someone has to look at the record: retrying the request cannot help.
        throw new ProducerError('SHARDSYNC_INTERNAL', `the idempotency record of Idempotency-Key "${key}" cannot be read: ${err.message}`, { cause: err });
      }
      // The key may be claimed for us all the same (the last reply lost): free it once Redis answers.
      this.#release(claim);
      throw new ProducerError('SHARDSYNC_UNAVAILABLE', `the idempotency store is unavailable: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (outcome.kind === 'in-progress') {
      throw new ProducerError('SHARDSYNC_IDEMPOTENCY_IN_PROGRESS', `a request with Idempotency-Key "${key}" is still in progress; retry later`);
    }
    if (outcome.kind === 'done') {
      if (!sameRequest(outcome.result, asked)) {
        throw new ProducerError('SHARDSYNC_IDEMPOTENCY_KEY_REUSED', `Idempotency-Key "${key}" was used for a different request`);
      }
      const first = outcome.result.body as unknown as Accepted;
      if (sameBody !== undefined && !(await sameBody(first))) {
        throw new ProducerError('SHARDSYNC_IDEMPOTENCY_KEY_REUSED', `Idempotency-Key "${key}" was used for a request with another body (the first one's SHA-256 is ${first.sha256 ?? 'none'})`);
      }
      if (outcome.result.unsettled !== undefined) await this.#settle(claim, outcome.result, outcome.result.unsettled);
      return first;
    }
    let accepted: Accepted;
    this.#keepClaim(claim);
    try {
      accepted = await work();
    } catch (err) {
      if (err instanceof MaybeAppendedError && this.#resend !== undefined) {
        // Its event may be in the log: a retry must send that one again, not emit a second.
        this.#complete(claim, answerRecord(asked, err.accepted, err.event));
      } else {
        this.#release(claim);
      }
      throw err;
    } finally {
      this.#dropClaim(claim);
    }
    // The event is durable now; failing to remember the answer must not turn it into an error,
    // and answering need not wait for it: this instance's later commands for the key travel on
    // the same Redis connection, after this one, so its own retries see the answer. (A retry that
    // reaches another instance first gets 409 and retries.)
    this.#complete(claim, answerRecord(asked, accepted));
    return accepted;
  }

  /**
   * Sends the event of an earlier attempt again, whose first append may not have landed, and
   * records the answer as settled; a failure is this retry's 503 (and the next retry's turn).
   */
  async #settle(claim: ClaimRef, result: IdempotentResult, event: UnsettledEvent): Promise<void> {
    if (this.#resend === undefined) throw new ProducerError('SHARDSYNC_UNAVAILABLE', `the event of Idempotency-Key "${claim.key}" may not be in Kafka and this producer cannot send it again; retry later`);
    try {
      await this.#resend(event);
    } catch (err) {
      const failure = toApiError(err, 'Kafka');
      const advice = failure.retriable ? 'retry with the same key' : 'Kafka refused it';
      throw new ProducerError(failure.code, `Kafka did not confirm the event of Idempotency-Key "${claim.key}" again; ${advice}: ${failure.message}`, { cause: err });
    }
    // The same record without its event: `request` included, or the next retry would be compared by fingerprint alone.
    const { unsettled: _appended, ...settled } = result;
    this.#inBackground(
      async () => {
        await this.#store.settle(claim, result, settled, this.#ttlMs);
      },
      [claim],
      'could not record that the event of an Idempotency-Key request is appended; its next retry sends it once more (a duplicate every consumer skips)',
    );
  }

  /** Keeps `claim` alive until {@link #dropClaim}: a request may run longer than a claim lives. */
  #keepClaim(claim: ClaimRef): void {
    this.#running.set(claim, Date.now());
    if (this.#keeper !== undefined) return;
    this.#keeper = setInterval(() => {
      // A claim made less than half an interval ago lives long enough without: most requests end
      // before their first round and never cost an extend.
      const madeBefore = Date.now() - CLAIM_REFRESH_MS / 2;
      for (const [running, since] of this.#running) if (since <= madeBefore) this.#extend(running);
    }, CLAIM_REFRESH_MS);
    this.#keeper.unref();
  }

  #dropClaim(claim: ClaimRef): void {
    this.#running.delete(claim);
    if (this.#running.size > 0 || this.#keeper === undefined) return;
    clearInterval(this.#keeper);
    this.#keeper = undefined;
  }

  #extend(claim: ClaimRef): void {
    this.#store.extend(claim).then(
      (ours) => {
        // Lost for good: nothing can win it back, and another request may hold it now.
        if (ours || !this.#running.delete(claim)) return;
        this.#conflict('claim-lost', claim);
      },
      (err: unknown) => this.#logger.warn({ err, scope: claim.scope, key: claim.key }, 'could not extend an idempotency claim; it may expire before its request ends'),
    );
  }

  /**
   * Records the answer in the background, retrying: a lost write would leave the claim pending,
   * so retries would get 409 until it expires and then emit a second event. The caller has its
   * answer whatever this finds; see `CompleteOutcome` for when another request's answer is kept.
   * The answers of one event-loop turn (the items of a batch request) are recorded together:
   * one store call and one retry loop for all of them, not one each.
   */
  #complete(claim: ClaimRef, result: IdempotentResult): void {
    this.#answers.push({ claim, result });
    if (this.#answers.length === 1) setImmediate(() => this.#recordAnswers());
  }

  #recordAnswers(): void {
    const answers = this.#answers;
    if (answers.length === 0) return;
    this.#answers = [];
    this.#inBackground(
      async () => {
        const outcomes = await this.#store.completeAll(answers, this.#ttlMs);
        answers.forEach(({ claim }, i) => {
          const outcome = outcomes[i];
          if (outcome instanceof Error || outcome === undefined) {
            // Not retried: the store did answer, only not as expected (the answer may well be recorded).
            this.#logger.error({ err: outcome, scope: claim.scope, key: claim.key }, 'the idempotency store answered unexpectedly while recording the answer of an Idempotency-Key request; it may not be recorded, so retries may get 409 until the claim expires');
          } else if (outcome !== 'recorded') {
            this.#conflict(outcome, claim);
          }
        });
      },
      answers.map(({ claim }) => claim),
      ANSWER_NOT_RECORDED,
    );
  }

  /** Drops our claim in the background, retrying, so a retry need not wait for it to expire. */
  #release(claim: ClaimRef): void {
    this.#inBackground(
      async () => {
        await this.#store.release(claim);
      },
      [claim],
      'could not release the claim of a failed Idempotency-Key request; its retries get 409 until the claim expires',
    );
  }

  #inBackground(attempt: () => Promise<void>, claims: readonly ClaimRef[], failure: string): void {
    const done = retry(attempt, this.#backgroundRetry)
      .catch((err: unknown) => {
        for (const { scope, key } of claims) this.#logger.error({ err, scope, key }, failure);
      })
      .finally(() => this.#pending.delete(done));
    this.#pending.add(done);
  }

  #conflict(conflict: IdempotencyConflict, { scope, key }: ClaimRef): void {
    this.#metrics?.idempotencyConflicts.inc({ conflict });
    this.#logger.warn({ scope, key, conflict }, CONFLICT_MESSAGES[conflict]);
  }
}
