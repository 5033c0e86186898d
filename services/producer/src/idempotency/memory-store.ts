import type { ClaimOutcome, IdempotencyStore, IdempotentResult } from './store.js';

/** In-process store for unit tests of the ingest logic. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly #entries = new Map<string, IdempotentResult | 'pending'>();

  async claim(scope: string, key: string): Promise<ClaimOutcome> {
    const k = `${scope}\0${key}`;
    const existing = this.#entries.get(k);
    if (existing === undefined) {
      this.#entries.set(k, 'pending');
      return { kind: 'claimed' };
    }
    return existing === 'pending' ? { kind: 'in-progress' } : { kind: 'done', result: existing };
  }

  async complete(scope: string, key: string, result: IdempotentResult): Promise<void> {
    this.#entries.set(`${scope}\0${key}`, result);
  }

  /** Claims here never expire. */
  async extend(): Promise<void> {}

  async release(scope: string, key: string): Promise<void> {
    const k = `${scope}\0${key}`;
    if (this.#entries.get(k) === 'pending') this.#entries.delete(k);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}
