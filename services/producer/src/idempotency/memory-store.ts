import { CLAIM_TTL_MS, type ClaimAnswer, type ClaimOutcome, type ClaimRef, type CompleteOutcome, type IdempotencyStore, type IdempotentResult } from './store.js';

type Entry = { kind: 'claim'; owner: string; expiresAt: number } | { kind: 'answer'; result: IdempotentResult; expiresAt: number };

/**
 * In-process store for unit tests of the ingest logic, with the Redis store's rules (owner
 * tokens, claim and answer lifetimes on `Date.now()`, so fake timers can expire them).
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly #entries = new Map<string, Entry>();

  #get({ scope, key }: ClaimRef): Entry | undefined {
    const k = `${scope}\0${key}`;
    const entry = this.#entries.get(k);
    if (entry !== undefined && entry.expiresAt <= Date.now()) {
      this.#entries.delete(k);
      return undefined;
    }
    return entry;
  }

  #set({ scope, key }: ClaimRef, entry: Entry | undefined): void {
    if (entry === undefined) this.#entries.delete(`${scope}\0${key}`);
    else this.#entries.set(`${scope}\0${key}`, entry);
  }

  #ours(claim: ClaimRef): boolean {
    const entry = this.#get(claim);
    return entry?.kind === 'claim' && entry.owner === claim.owner;
  }

  async claim(claim: ClaimRef, ttlMs: number): Promise<ClaimOutcome> {
    const entry = this.#get(claim);
    if (entry === undefined) {
      this.#set(claim, { kind: 'claim', owner: claim.owner, expiresAt: Date.now() + Math.min(ttlMs, CLAIM_TTL_MS) });
      return { kind: 'claimed' };
    }
    if (entry.kind === 'answer') return { kind: 'done', result: entry.result };
    return entry.owner === claim.owner ? { kind: 'claimed' } : { kind: 'in-progress' };
  }

  async completeAll(answers: readonly ClaimAnswer[], ttlMs: number): Promise<CompleteOutcome[]> {
    return answers.map(({ claim, result }) => this.#complete(claim, result, ttlMs));
  }

  #complete(claim: ClaimRef, result: IdempotentResult, ttlMs: number): CompleteOutcome {
    const entry = this.#get(claim);
    let outcome: CompleteOutcome = 'recorded';
    if (entry === undefined) outcome = 'claim-expired';
    else if (entry.kind === 'answer') {
      if (JSON.stringify(entry.result) !== JSON.stringify(result)) return 'answer-kept';
    } else if (entry.owner !== claim.owner) outcome = 'replaced-claim';
    this.#set(claim, { kind: 'answer', result, expiresAt: Date.now() + ttlMs });
    return outcome;
  }

  async settle(claim: ClaimRef, from: IdempotentResult, to: IdempotentResult, ttlMs: number): Promise<boolean> {
    const entry = this.#get(claim);
    if (entry?.kind !== 'answer' || JSON.stringify(entry.result) !== JSON.stringify(from)) return false;
    this.#set(claim, { kind: 'answer', result: to, expiresAt: Date.now() + ttlMs });
    return true;
  }

  async extend(claim: ClaimRef): Promise<boolean> {
    if (!this.#ours(claim)) return false;
    this.#set(claim, { kind: 'claim', owner: claim.owner, expiresAt: Date.now() + CLAIM_TTL_MS });
    return true;
  }

  async release(claim: ClaimRef): Promise<boolean> {
    if (!this.#ours(claim)) return false;
    this.#set(claim, undefined);
    return true;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}
