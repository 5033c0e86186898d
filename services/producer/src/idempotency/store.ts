/**
 * An event whose append ended in an error after which it may be in the log all the same (a
 * timeout, a lost connection: the broker may have appended it), kept so that a retry sends this
 * very event again (same event id and version, which every consumer skips as a duplicate if the
 * first append did land) instead of emitting a second update with a newer version.
 */
export interface UnsettledEvent {
  topic: string;
  /** The partition key. */
  key: string;
  /** The encoded event, base64. */
  value: string;
  headers: Record<string, string>;
}

/** The answer given to the first request with an Idempotency-Key, replayed to its retries. */
export interface IdempotentResult {
  /**
   * What the request was, in the form every producer records and compares: a retry must ask for
   * the same thing to get the same answer. Compared only when the record or the retry has no
   * {@link request} (a record of a producer from before it, a request that needs none).
   */
  fingerprint: string;
  /**
   * What the request was, fully (a put's metadata included, its length left to the body check),
   * compared instead of {@link fingerprint} whenever both sides have one. A separate field, not a
   * new fingerprint, so that producers from before it, which compare the fingerprint alone, still
   * answer a retry of a request first run here during a rolling upgrade.
   */
  request?: string;
  status: number;
  body: Record<string, unknown>;
  /**
   * Present while the event may not be in the log: the answer is given only once this event
   * is appended (again); see {@link IdempotencyStore.settle}.
   */
  unsettled?: UnsettledEvent;
}

/**
 * A claim's lifetime: a claim whose request died with its process stops blocking retries after
 * this long; a live request keeps its claim by extending it (see `Idempotency`).
 */
export const CLAIM_TTL_MS = 5 * 60 * 1000;

/**
 * One request's claim of a key. `owner` is random per request and is what the store keeps as the
 * pending claim, so that only the request that made a claim can extend, release or complete it:
 * a request whose claim expired and was taken over by a retry must not touch the retry's claim.
 */
export interface ClaimRef {
  scope: string;
  key: string;
  owner: string;
}

/** A claim held by another request (whatever its owner) reads as 'in-progress'. */
export type ClaimOutcome =
  | { kind: 'claimed' }
  | { kind: 'in-progress' }
  | { kind: 'done'; result: IdempotentResult };

/**
 * What recording an answer found. The answer is recorded unless another answer already is: an
 * acknowledged answer is true, so it may replace a pending claim, even another request's (that
 * request already runs and its event cannot be stopped; if it fails, the retries after it get
 * this answer instead of emitting once more), but the first recorded answer is never replaced,
 * so every retry keeps getting the same one.
 * - `recorded`: the key held our claim (or this very answer, from an attempt whose reply was lost);
 * - `claim-expired`: the key was free (our claim expired and nobody claimed it since); recorded;
 * - `replaced-claim`: another request had claimed the key after ours expired; recorded over it;
 * - `answer-kept`: another request's answer was already recorded; ours was not.
 */
export type CompleteOutcome = 'recorded' | 'claim-expired' | 'replaced-claim' | 'answer-kept';

/** The answer of the request that holds `claim`, to record under its key. */
export interface ClaimAnswer {
  claim: ClaimRef;
  result: IdempotentResult;
}

/**
 * Remembers Idempotency-Keys across producer instances. A key is first claimed (atomically,
 * so two concurrent retries cannot both emit), then completed with the answer, or released
 * when the request failed so a retry may try again. Claiming again with the same owner is
 * idempotent: it answers 'claimed' (an attempt whose reply was lost did claim the key).
 */
export interface IdempotencyStore {
  claim(claim: ClaimRef, ttlMs: number): Promise<ClaimOutcome>;
  /**
   * Records the answers of several requests at once (those finished in one event-loop turn), each
   * as {@link CompleteOutcome} says; answers one outcome per answer, in order, or an Error for an
   * answer the store could not judge. Rejects only when nothing can be said (the store is
   * unreachable): recording again is then safe, since an answer already recorded by this very
   * request reads as `recorded`.
   */
  completeAll(answers: readonly ClaimAnswer[], ttlMs: number): Promise<ReadonlyArray<CompleteOutcome | Error>>;
  /**
   * Keeps our pending claim from expiring while its request still runs (a large upload can take
   * longer than the claim's lifetime). Answers false, and does nothing, when the key no longer
   * holds our claim.
   */
  extend(claim: ClaimRef): Promise<boolean>;
  /** Drops our pending claim; never another request's claim nor an answer. Answers whether it dropped it. */
  release(claim: ClaimRef): Promise<boolean>;
  /**
   * Replaces the unsettled answer `from` of `claim`'s key with `to` (the same answer, its event
   * now appended), only while the key still holds exactly `from`: by the time a retry settles it,
   * the answer may have expired and the key been claimed or answered by another request.
   * Resolves whether it was written.
   */
  settle(claim: ClaimRef, from: IdempotentResult, to: IdempotentResult, ttlMs: number): Promise<boolean>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A stored record that is neither a claim nor an answer (another version's format, a hand edit): claiming again cannot help. */
export class UnreadableRecordError extends Error {
  readonly code = 'SHARDSYNC_IDEMPOTENCY_RECORD_UNREADABLE';
  readonly retriable = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnreadableRecordError';
  }
}
