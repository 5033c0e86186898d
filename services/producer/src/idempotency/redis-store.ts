import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ClaimOutcome, IdempotencyStore, IdempotentResult } from './store.js';

const PENDING = 'pending';
/**
 * A claim whose request died with its process stops blocking retries after this long; a live
 * request keeps its claim by extending it (see `Idempotency`, every `CLAIM_REFRESH_MS`).
 */
export const CLAIM_TTL_MS = 5 * 60 * 1000;
/** PEXPIRE the key only while it still holds a pending claim (never a recorded answer's TTL). */
const EXTEND_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`;
/** What the claim script answers for a key it claimed (a stored value is never empty). */
const CLAIMED = '';
/**
 * SET key PENDING PX ttl NX for each key; answers, per key, '' when it claimed it, else the value
 * already there. Atomic per key like SET NX (Redis runs a script as one command). All keys of one
 * call must live on one Redis node, as every key of a single-instance Redis does.
 */
const CLAIM_SCRIPT = `
local answers = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'PX', ARGV[i + 1], 'NX') then
    answers[i] = ''
  else
    -- Never nil here (the script is atomic), but an unknown state must not read as claimed.
    answers[i] = redis.call('GET', key) or ARGV[1]
  end
end
return answers
`;

interface PendingClaim {
  key: string;
  ttlMs: number;
  resolve: (outcome: ClaimOutcome) => void;
  reject: (err: unknown) => void;
}

/**
 * Idempotency records in Redis: `SET NX` claims atomically across producer instances. If
 * Redis loses them, a retry emits a second event with a newer version and the same bytes:
 * the datacenters still converge to the same content, so Redis is not the only copy of
 * anything that matters.
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  #claims: PendingClaim[] = [];

  constructor(redis: Redis, prefix = 'shardsync:idempotency:') {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  #key(scope: string, key: string): string {
    // Hash so that arbitrary client keys cannot collide with other Redis keys or grow them.
    return this.#prefix + createHash('sha256').update(`${scope}\0${key}`).digest('hex');
  }

  /**
   * Claims made in one event-loop turn (the items of a batch request, requests parsed together)
   * go to Redis as one script call, which answers each key as SET NX would, plus the value that
   * was already there: one command instead of two per key.
   */
  claim(scope: string, key: string, ttlMs: number): Promise<ClaimOutcome> {
    return new Promise<ClaimOutcome>((resolve, reject) => {
      this.#claims.push({ key: this.#key(scope, key), ttlMs: Math.min(ttlMs, CLAIM_TTL_MS), resolve, reject });
      if (this.#claims.length === 1) setImmediate(() => void this.#flushClaims());
    });
  }

  async #flushClaims(): Promise<void> {
    const claims = this.#claims.splice(0);
    let answers: unknown;
    try {
      answers = await this.#redis.eval(CLAIM_SCRIPT, claims.length, ...claims.map((c) => c.key), PENDING, ...claims.map((c) => String(c.ttlMs)));
    } catch (err) {
      for (const c of claims) c.reject(err);
      return;
    }
    claims.forEach((c, i) => {
      const existing = Array.isArray(answers) ? (answers[i] as unknown) : undefined;
      if (existing === CLAIMED) c.resolve({ kind: 'claimed' });
      else if (existing === PENDING) c.resolve({ kind: 'in-progress' });
      else if (typeof existing === 'string') {
        // One unreadable record (another version's format, a hand edit) fails its own claim only.
        try {
          c.resolve({ kind: 'done', result: JSON.parse(existing) as IdempotentResult });
        } catch (err) {
          c.reject(new Error(`the idempotency record ${c.key} is not JSON`, { cause: err }));
        }
      } else c.reject(new Error(`the claim script answered ${JSON.stringify(answers)} for ${claims.length} keys`));
    });
  }

  async complete(scope: string, key: string, result: IdempotentResult, ttlMs: number): Promise<void> {
    await this.#redis.set(this.#key(scope, key), JSON.stringify(result), 'PX', ttlMs);
  }

  async extend(scope: string, key: string): Promise<void> {
    await this.#redis.eval(EXTEND_SCRIPT, 1, this.#key(scope, key), PENDING, String(CLAIM_TTL_MS));
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
