/**
 * One pass of a dataset at a time, across every reconciler instance sharing the queue and every
 * `shardsync reconcile` or `bootstrap` run: both take the same Redis key per dataset
 * (`<prefix>:pass-lock:<dataset>`), holding the holder's id.
 *
 * Taking the key is atomic (SET NX, or a compare-and-set over a holder that is no longer
 * running), so of two passes that start together exactly one runs; looking for running passes
 * and then starting (check-then-act) let both see the other and both skip.
 *
 * Two kinds of holders:
 * - a scheduled pass job holds the key without expiry (it may wait hours for its range jobs); a
 *   holder that is no longer running is taken over, as `HolderRunning` tells, so a crashed pass
 *   never blocks its dataset for good;
 * - a CLI run holds a lease: the key expires unless the run extends it, so a CLI killed
 *   mid-pass frees the dataset within one lease. Its id starts with {@link CLI_HOLDER_PREFIX}.
 */
export interface PassLock {
  /** Takes the dataset's pass for `holder`; answers undefined when it holds it, or the running holder's id. */
  claim(dataset: string, holder: string): Promise<string | undefined>;
  /** Takes the dataset's pass for `holder` for `ttlMs` (a lease: see {@link extend}); answers like {@link claim}. */
  lease(dataset: string, holder: string, ttlMs: number): Promise<string | undefined>;
  /** Extends `holder`'s lease to `ttlMs` from now; false when it no longer holds the pass. */
  extend(dataset: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Releases the dataset's pass if `holder` holds it (a no-op otherwise). */
  release(dataset: string, holder: string): Promise<void>;
}

/** Whether the holder with this id still runs a pass of `dataset`. */
export type HolderRunning = (holder: string, dataset: string) => Promise<boolean>;

/** Ids of CLI holders start with this; their leases expire by themselves. */
export const CLI_HOLDER_PREFIX = 'cli:';

/**
 * The Redis commands the lock uses. An ioredis `Redis` satisfies it; so can any other client,
 * which keeps this package free of a Redis dependency.
 */
export interface PassLockRedis {
  get(key: string): Promise<string | null>;
  eval(script: string, numKeys: number, ...args: string[]): Promise<unknown>;
}

/** SET NX, with PX ARGV[2] when given; 1 when taken. */
const TAKE = `if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  if ARGV[2] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
  return 1
end
return 0`;
const REPLACE_IF = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  if ARGV[3] then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
  return 1
end
return 0`;
const EXTEND_IF = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const DELETE_IF = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** Attempts at taking over from a holder that stopped before another contender takes the key first. */
const CLAIM_ROUNDS = 5;

/** The Redis key of a dataset's pass lock. */
export function passLockKey(keyPrefix: string, dataset: string): string {
  return `${keyPrefix}:pass-lock:${dataset}`;
}

/**
 * @param keyPrefix the reconciler's Redis prefix (`SHARDSYNC_RECONCILER_REDIS_PREFIX`, default `shardsync`)
 * @param holderRunning whether a holder found in the key still runs; a CLI holder always counts
 *   as running (its lease expires by itself), whatever this answers
 */
export function createPassLock(redis: PassLockRedis, keyPrefix: string, holderRunning: HolderRunning): PassLock {
  const take = async (dataset: string, holder: string, ttlMs: number | undefined): Promise<string | undefined> => {
    const key = passLockKey(keyPrefix, dataset);
    const ttl = ttlMs === undefined ? [] : [String(ttlMs)];
    for (let round = 0; round < CLAIM_ROUNDS; round++) {
      if ((await redis.eval(TAKE, 1, key, holder, ...ttl)) === 1) return undefined;
      const current = await redis.get(key);
      if (current === null) continue; // released or expired meanwhile: try again
      if (current === holder) {
        // This holder's own earlier attempt (a retried job, a lease taken again): renew a lease.
        if (ttlMs !== undefined) await redis.eval(EXTEND_IF, 1, key, holder, String(ttlMs));
        return undefined;
      }
      if (current.startsWith(CLI_HOLDER_PREFIX) || (await holderRunning(current, dataset))) return current;
      if ((await redis.eval(REPLACE_IF, 1, key, current, holder, ...ttl)) === 1) return undefined;
      // Another contender took over first; look at the new holder.
    }
    return (await redis.get(key)) ?? 'another pass';
  };
  return {
    claim: (dataset, holder) => take(dataset, holder, undefined),
    lease: (dataset, holder, ttlMs) => take(dataset, holder, ttlMs),
    async extend(dataset, holder, ttlMs) {
      return (await redis.eval(EXTEND_IF, 1, passLockKey(keyPrefix, dataset), holder, String(ttlMs))) === 1;
    },
    async release(dataset, holder) {
      await redis.eval(DELETE_IF, 1, passLockKey(keyPrefix, dataset), holder);
    },
  };
}
