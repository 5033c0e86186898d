import { classifyKafkaError } from '@shardsync/eventlog';
import { retry } from '@shardsync/runtime';
import { CliError } from '../errors.js';

/**
 * kafkajs protocol error types a broker answers while it is still taking up a group coordinator
 * or a new partition's leadership. On a freshly started broker the first group lookup creates
 * `__consumer_offsets`; until each of its partitions is loaded, group requests (offset fetch,
 * describe, join) get these for a moment, even after the coordinator was found.
 */
const STARTING_TYPES: ReadonlySet<string> = new Set([
  'GROUP_COORDINATOR_NOT_AVAILABLE', // COORDINATOR_NOT_AVAILABLE (15)
  'NOT_COORDINATOR_FOR_GROUP', // NOT_COORDINATOR (16): asked before the broker took the offsets partition up
  'GROUP_LOAD_IN_PROGRESS', // COORDINATOR_LOAD_IN_PROGRESS (14): "the coordinator is loading"
  'LEADER_NOT_AVAILABLE', // (5) a partition just created has no leader yet
  'NOT_LEADER_FOR_PARTITION', // NOT_LEADER_OR_FOLLOWER (6)
]);

interface KafkaJsErrorShape {
  readonly name?: unknown;
  readonly type?: unknown;
  readonly retriable?: unknown;
  readonly cause?: unknown;
}

/**
 * True when `err`, or an error it wraps (`cause`: kafkajs' `KafkaJSNumberOfRetriesExceeded`, an
 * `EventLogError`), says the broker's group coordinator or a partition leader is still starting:
 * a retriable kafkajs protocol error of one of the types above, or kafkajs finding no coordinator
 * at all. Connection errors are not: kafkajs retried those already, and the operator has to act.
 * Never throws.
 */
export function isCoordinatorStarting(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    const e = current as KafkaJsErrorShape;
    if (e.name === 'KafkaJSGroupCoordinatorNotFound') return true;
    if (e.name === 'KafkaJSProtocolError' && e.retriable === true && typeof e.type === 'string' && STARTING_TYPES.has(e.type)) return true;
    current = e.cause;
  }
  return false;
}

/** How long to wait for a starting coordinator. All optional. */
export interface CoordinatorRetryOptions {
  /** Attempts in all, the first included. Default 10 (about 7 s of waiting on average, 13 s at most). */
  readonly maxAttempts?: number | undefined;
  /** First delay in ms. Default 200. */
  readonly initialDelayMs?: number | undefined;
  /** Upper bound of one delay in ms. Default 2000. */
  readonly maxDelayMs?: number | undefined;
  /** Stops waiting; the pending attempt's error (or the abort reason) is thrown. */
  readonly signal?: AbortSignal | undefined;
  /** Random source in [0, 1) for the jitter. Default `Math.random`. */
  readonly random?: (() => number) | undefined;
  /** Epoch milliseconds, for the time reported when giving up. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

/**
 * Runs `fn` (one Kafka group operation), trying again with backoff and jitter while the broker's
 * group coordinator is still starting (see {@link isCoordinatorStarting}). Any other error is
 * thrown at once, classified by `classifyKafkaError` with `what` was being done as its context
 * (e.g. `reading the committed offsets of group shardsync.dlq-replay`). When the coordinator is
 * still starting after the last attempt, throws a retriable `SHARDSYNC_CLI_NOT_AVAILABLE` that
 * names `what` and how long it waited.
 */
export async function withCoordinatorRetry<T>(what: string, fn: () => Promise<T>, options: CoordinatorRetryOptions = {}): Promise<T> {
  const now = options.now ?? Date.now;
  const started = now();
  let attempts = 0;
  try {
    return await retry(
      async (attempt) => {
        attempts = attempt;
        return await fn();
      },
      {
        maxAttempts: options.maxAttempts ?? 10,
        initialDelayMs: options.initialDelayMs ?? 200,
        maxDelayMs: options.maxDelayMs ?? 2000,
        isRetriable: isCoordinatorStarting,
        signal: options.signal,
        random: options.random,
      },
    );
  } catch (err) {
    if (!isCoordinatorStarting(err) || options.signal?.aborted === true) throw err instanceof CliError ? err : classifyKafkaError(err, what);
    const detail = err instanceof Error ? err.message : String(err);
    const seconds = ((now() - started) / 1000).toFixed(1);
    throw new CliError('SHARDSYNC_CLI_NOT_AVAILABLE', `${what}: Kafka's group coordinator was still not ready after ${attempts} attempt(s) over ${seconds} s (${detail})`, {
      retriable: true,
      hint: 'a broker that just started loads its consumer groups first; run the command again in a moment, and check the broker log if this persists',
      cause: err,
    });
  }
}
