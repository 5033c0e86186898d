import type { Redis } from 'ioredis';
import { sha256Hex } from '@shardsync/integrity';
import { TurnBatch } from './turn-batch.js';
import { CLAIM_TTL_MS, UnreadableRecordError, type ClaimAnswer, type ClaimOutcome, type ClaimRef, type CompleteOutcome, type IdempotencyStore, type IdempotentResult } from './store.js';

/**
 * A pending claim is stored as `pending:<owner>`. Anything starting with `pending` is a claim,
 * including the bare `pending` that producers before owner tokens wrote (still read as another
 * request's claim during a rolling upgrade); answers are JSON objects, so they start with `{`.
 */
function claimValue(owner: string): string {
  return `pending:${owner}`;
}

/**
 * An unsettled answer (its event may not be in Kafka; see `UnsettledEvent`) is stored behind
 * this prefix, which starts with `pending`: a producer from before unsettled answers reads it as
 * a claim and answers 409, rather than 202 for an event that may never have been appended.
 */
const UNSETTLED_PREFIX = 'pending-unsettled:';

function recordOf(result: IdempotentResult): string {
  return result.unsettled === undefined ? JSON.stringify(result) : `${UNSETTLED_PREFIX}${JSON.stringify(result)}`;
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
 * Per key i (claim ARGV[3i-2], answer ARGV[3i-1], TTL ARGV[3i]): SET the answer unless another
 * answer is recorded; answers a CompleteOutcome per key. Our own answer already there means an
 * earlier attempt ran and lost its reply: recorded, not a conflict.
 */
const COMPLETE_SCRIPT = `
local outcomes = {}
for i, key in ipairs(KEYS) do
  local claim, answer, ttl = ARGV[3 * i - 2], ARGV[3 * i - 1], ARGV[3 * i]
  local current = redis.call('GET', key)
  local outcome = 'recorded'
  if not current then
    outcome = 'claim-expired'
  elseif current ~= claim and current ~= answer then
    if string.sub(current, 1, 7) == 'pending' then outcome = 'replaced-claim' else outcome = 'answer-kept' end
  end
  if outcome ~= 'answer-kept' then redis.call('SET', key, answer, 'PX', ttl) end
  outcomes[i] = outcome
end
return outcomes
`;
/** SET ARGV[2] (PX ARGV[3]) only while the key holds exactly ARGV[1]. */
const SETTLE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
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

interface ClaimCall {
  key: string;
  owner: string;
  ttlMs: number;
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
  readonly #claims = new TurnBatch<ClaimCall, ClaimOutcome>((calls) => this.#claimAll(calls));

  constructor(redis: Redis, prefix = 'shardsync:idempotency:') {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  /** Redis keys of the claims this store saw, so a claim's key is hashed once, not per command. */
  readonly #keys = new WeakMap<ClaimRef, string>();

  #key(claim: ClaimRef): string {
    let redisKey = this.#keys.get(claim);
    if (redisKey === undefined) {
      // Hash so that arbitrary client keys cannot collide with other Redis keys or grow them.
      redisKey = this.#prefix + sha256Hex(`${claim.scope}\0${claim.key}`);
      this.#keys.set(claim, redisKey);
    }
    return redisKey;
  }

  /**
   * Claims made in one event-loop turn (the items of a batch request, requests parsed together)
   * go to Redis as one script call, which answers each key as SET NX would, plus the value that
   * was already there: one command instead of two per key.
   */
  claim(claim: ClaimRef, ttlMs: number): Promise<ClaimOutcome> {
    return this.#claims.add({ key: this.#key(claim), owner: claim.owner, ttlMs: Math.min(ttlMs, CLAIM_TTL_MS) });
  }

  async #claimAll(calls: readonly ClaimCall[]): Promise<Array<ClaimOutcome | Error>> {
    const answers: unknown = await this.#redis.eval(CLAIM_SCRIPT, calls.length, ...calls.map((c) => c.key), ...calls.flatMap((c) => [claimValue(c.owner), String(c.ttlMs)]));
    if (!Array.isArray(answers) || answers.length !== calls.length) throw new Error(`the claim script answered ${JSON.stringify(answers)} for ${calls.length} keys`);
    return calls.map((c, i): ClaimOutcome | Error => {
      const existing: unknown = answers[i];
      if (existing === CLAIMED) return { kind: 'claimed' };
      if (typeof existing !== 'string') return new Error(`the claim script answered ${JSON.stringify(existing)} for ${c.key}`);
      const unsettled = existing.startsWith(UNSETTLED_PREFIX);
      if (!unsettled && existing.startsWith('pending')) return { kind: 'in-progress' };
      // One unreadable record (another version's format, a hand edit) fails its own claim only.
      try {
        return { kind: 'done', result: JSON.parse(unsettled ? existing.slice(UNSETTLED_PREFIX.length) : existing) as IdempotentResult };
      } catch (err) {
        return new UnreadableRecordError(`the idempotency record ${c.key} is neither a claim nor JSON`, { cause: err });
      }
    });
  }

  /** The answers of one call go to Redis as one script call, like the claims of one turn. */
  async completeAll(answers: readonly ClaimAnswer[], ttlMs: number): Promise<Array<CompleteOutcome | Error>> {
    const keys = answers.map(({ claim }) => this.#key(claim));
    const args = answers.flatMap(({ claim, result }) => [claimValue(claim.owner), recordOf(result), String(ttlMs)]);
    const outcomes: unknown = await this.#redis.eval(COMPLETE_SCRIPT, keys.length, ...keys, ...args);
    if (!Array.isArray(outcomes) || outcomes.length !== answers.length) throw new Error(`the complete script answered ${JSON.stringify(outcomes)} for ${answers.length} keys`);
    return outcomes.map((o: unknown) => (isCompleteOutcome(o) ? o : new Error(`the complete script answered ${JSON.stringify(o)}`)));
  }

  async settle(claim: ClaimRef, from: IdempotentResult, to: IdempotentResult, ttlMs: number): Promise<boolean> {
    return (await this.#redis.eval(SETTLE_SCRIPT, 1, this.#key(claim), recordOf(from), recordOf(to), String(ttlMs))) === 1;
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
