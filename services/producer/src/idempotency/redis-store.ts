import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ClaimOutcome, IdempotencyStore, IdempotentResult } from './store.js';

const PENDING = 'pending';
/** A claim whose request died with its process stops blocking retries after this long. */
const CLAIM_TTL_MS = 5 * 60 * 1000;

/**
 * Idempotency records in Redis: `SET NX` claims atomically across producer instances. If
 * Redis loses them, a retry emits a second event with a newer version and the same bytes:
 * the datacenters still converge to the same content, so Redis is not the only copy of
 * anything that matters.
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix = 'shardsync:idempotency:') {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  #key(scope: string, key: string): string {
    // Hash so that arbitrary client keys cannot collide with other Redis keys or grow them.
    return this.#prefix + createHash('sha256').update(`${scope}\0${key}`).digest('hex');
  }

  async claim(scope: string, key: string, ttlMs: number): Promise<ClaimOutcome> {
    const k = this.#key(scope, key);
    const set = await this.#redis.set(k, PENDING, 'PX', Math.min(ttlMs, CLAIM_TTL_MS), 'NX');
    if (set === 'OK') return { kind: 'claimed' };
    const existing = await this.#redis.get(k);
    if (existing === null) return this.claim(scope, key, ttlMs);
    if (existing === PENDING) return { kind: 'in-progress' };
    return { kind: 'done', result: JSON.parse(existing) as IdempotentResult };
  }

  async complete(scope: string, key: string, result: IdempotentResult, ttlMs: number): Promise<void> {
    await this.#redis.set(this.#key(scope, key), JSON.stringify(result), 'PX', ttlMs);
  }

  async release(scope: string, key: string): Promise<void> {
    const k = this.#key(scope, key);
    // Only drop a pending claim: never a completed answer.
    const current = await this.#redis.get(k);
    if (current === PENDING) await this.#redis.del(k);
  }

  async ping(): Promise<void> {
    await this.#redis.ping();
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}
