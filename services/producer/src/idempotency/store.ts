/** The answer given to the first request with an Idempotency-Key, replayed to its retries. */
export interface IdempotentResult {
  /** What the request was: a retry must ask for the same thing to get the same answer. */
  fingerprint: string;
  status: number;
  body: Record<string, unknown>;
}

export type ClaimOutcome =
  | { kind: 'claimed' }
  | { kind: 'in-progress' }
  | { kind: 'done'; result: IdempotentResult };

/**
 * Remembers Idempotency-Keys across producer instances. A key is first claimed (atomically,
 * so two concurrent retries cannot both emit), then completed with the answer, or released
 * when the request failed so a retry may try again.
 */
export interface IdempotencyStore {
  claim(scope: string, key: string, ttlMs: number): Promise<ClaimOutcome>;
  complete(scope: string, key: string, result: IdempotentResult, ttlMs: number): Promise<void>;
  /**
   * Keeps a pending claim from expiring while its request still runs (a large upload can take
   * longer than the claim's lifetime). Does nothing to a key that is no longer pending.
   */
  extend(scope: string, key: string): Promise<void>;
  release(scope: string, key: string): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
