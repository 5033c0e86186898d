import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { CLAIM_TTL_MS, UnreadableRecordError, type ClaimOutcome, type ClaimRef, type CompleteOutcome, type IdempotencyStore, type IdempotentResult } from './store.js';

/**
 * A pending claim is stored as `pending:<owner>`. Anything starting with `pending` is a claim,
 * including the bare `pending` that producers before owner tokens wrote (still read as another
 * request's claim during a rolling upgrade); answers are JSON objects, so they start with `{`.
 */
function claimValue(owner: string): string {
  return `pending:${owner}`;
}

/** PEXPIRE the key only while it still holds our claim (never another's, nor an answer's TTL). */
const EXTEND_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`;
/** DEL the key only while it still holds our claim. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;
/**
 * SET the answer (ARGV[2]) unless another answer is recorded; answers a CompleteOutcome. Our own
 * answer already there means an earlier attempt ran and lost its reply: recorded, not a conflict.
 */
const COMPLETE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
local outcome = 'recorded'
if not current then
  outcome = 'claim-expired'
elseif current ~= ARGV[1] and current ~= ARGV[2] then
  if string.sub(current, 1, 7) ~= 'pending' then return 'answer-kept' end
  outcome = 'replaced-claim'
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return outcome
`;
const COMPLETE_OUTCOMES: readonly unknown[] = ['recorded', 'claim-expired', 'replaced-claim', 'answer-kept'] satisfies CompleteOutcome[];
function isCompleteOutcome(value: unknown): value is CompleteOutcome {
  return COMPLETE_OUTCOMES.includes(value);
}
/** What the claim script answers for a key it claimed (a stored value is never empty). */
const CLAIMED = '';
/**
 * Per key i, SET key ARGV[2i-1] PX ARGV[2i] NX; answers, per key, '' when it claimed it (or the
 * key already held this very claim: an earlier attempt of the same request whose reply was lost,
 * e.g. one ioredis resent after a reconnect), else the value already there. Atomic per key like
 * SET NX (Redis runs a script as one command). All keys of one call must live on one Redis node,
 * as every key of a single-instance Redis does.
 */
const CLAIM_SCRIPT = `
local answers = {}
for i, key in ipairs(KEYS) do
  local claim = ARGV[2 * i - 1]
  if redis.call('SET', key, claim, 'PX', ARGV[2 * i], 'NX') then
    answers[i] = ''
  else
    local current = redis.call('GET', key)
    if current == claim then
      answers[i] = ''
    else
      -- Never nil here (the script is atomic), but an unknown state must not read as claimed.
      answers[i] = current or 'pending'
    end
  end
end
return answers
`;

interface PendingClaim {
  key: string;
  owner: string;
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

  #key({ scope, key }: ClaimRef): string {
    // Hash so that arbitrary client keys cannot collide with other Redis keys or grow them.
    return this.#prefix + createHash('sha256').update(`${scope}\0${key}`).digest('hex');
  }

  /**
   * Claims made in one event-loop turn (the items of a batch request, requests parsed together)
   * go to Redis as one script call, which answers each key as SET NX would, plus the value that
   * was already there: one command instead of two per key.
   */
  claim(claim: ClaimRef, ttlMs: number): Promise<ClaimOutcome> {
    return new Promise<ClaimOutcome>((resolve, reject) => {
      this.#claims.push({ key: this.#key(claim), owner: claim.owner, ttlMs: Math.min(ttlMs, CLAIM_TTL_MS), resolve, reject });
      if (this.#claims.length === 1) setImmediate(() => void this.#flushClaims());
    });
  }

  async #flushClaims(): Promise<void> {
    const claims = this.#claims.splice(0);
    let answers: unknown;
    try {
      answers = await this.#redis.eval(CLAIM_SCRIPT, claims.length, ...claims.map((c) => c.key), ...claims.flatMap((c) => [claimValue(c.owner), String(c.ttlMs)]));
    } catch (err) {
      for (const c of claims) c.reject(err);
      return;
    }
    claims.forEach((c, i) => {
      const existing = Array.isArray(answers) ? (answers[i] as unknown) : undefined;
      if (existing === CLAIMED) c.resolve({ kind: 'claimed' });
      else if (typeof existing === 'string' && existing.startsWith('pending')) c.resolve({ kind: 'in-progress' });
      else if (typeof existing === 'string') {
        // One unreadable record (another version's format, a hand edit) fails its own claim only.
        try {
          c.resolve({ kind: 'done', result: JSON.parse(existing) as IdempotentResult });
        } catch (err) {
          c.reject(new UnreadableRecordError(`the idempotency record ${c.key} is neither a claim nor JSON`, { cause: err }));
        }
      } else c.reject(new Error(`the claim script answered ${JSON.stringify(answers)} for ${claims.length} keys`));
    });
  }

  async complete(claim: ClaimRef, result: IdempotentResult, ttlMs: number): Promise<CompleteOutcome> {
    const outcome = await this.#redis.eval(COMPLETE_SCRIPT, 1, this.#key(claim), claimValue(claim.owner), JSON.stringify(result), String(ttlMs));
    if (!isCompleteOutcome(outcome)) throw new Error(`the complete script answered ${JSON.stringify(outcome)}`);
    return outcome;
  }

  async extend(claim: ClaimRef): Promise<boolean> {
    return (await this.#redis.eval(EXTEND_SCRIPT, 1, this.#key(claim), claimValue(claim.owner), String(CLAIM_TTL_MS))) === 1;
  }

  async release(claim: ClaimRef): Promise<boolean> {
    return (await this.#redis.eval(RELEASE_SCRIPT, 1, this.#key(claim), claimValue(claim.owner))) === 1;
  }

  async ping(): Promise<void> {
    await this.#redis.ping();
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}
