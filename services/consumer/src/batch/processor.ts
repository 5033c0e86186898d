import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Topology } from '@shardsync/config';
import { ContiguousOffsetTracker, isMessageTooLarge, toDeadLetter, withoutValue, type ConsumedEvent, type EventSink, type PartitionBatch } from '@shardsync/eventlog';
import { compareVersions, type SchemaRegistry, type ShardUpdate } from '@shardsync/events';
import { backoffDelay, isRetriable, retry, sleep, type Logger } from '@shardsync/runtime';
import type { Applier, ApplyOutcome } from '../apply/applier.js';
import { codeOf } from '../apply/errors.js';
import { logRetry } from '../apply/retry-log.js';
import type { ConsumerMetrics } from '../metrics.js';
import { classify, groupByKey, type KeyGroup } from './decode.js';
import { runBounded } from './bounded.js';

export interface ProcessorDeps {
  datacenter: string;
  topology: Topology;
  registry: SchemaRegistry;
  applier: Pick<Applier, 'apply'>;
  /** Where dead letters go (the dead-letter topic). */
  deadLetters: EventSink;
  metrics: ConsumerMetrics;
  logger: Logger;
  /** Keys applied at the same time. */
  concurrency: number;
  /** How long an event whose payload no source can serve keeps being retried before it is dead-lettered. */
  sourceWaitMs: number;
  /** The same, when the only source read has other bytes and no other holds the version (SHARDSYNC_SOURCE_BYTES_MISMATCH). */
  sourceMismatchWaitMs: number;
  /**
   * Tells the watchdog the handler is alive: an event finished, or an attempt failed and will be
   * retried. A partition waiting on a source or a store that is down is visibly retrying (logs,
   * `shardsync_consumer_apply_retries_total`, readiness), not silently stuck; restarting it would only
   * restart its waits (the source wait is counted per process) and rebalance the group.
   */
  onProgress: () => void;
  /** Aborts every pending retry when the service closes. */
  signal: AbortSignal;
  /** Interval of group heartbeats during long batches. Default 3000 ms. */
  heartbeatMs?: number;
}

/** Retries of one event so far, kept while its partition pauses between batches. */
interface RetryState {
  attempt: number;
  /** Since when no source could serve its payload (unbroken run of such failures of one code). */
  sourceMissingSince?: number | undefined;
  /** The code of that run: a run of another code starts its own wait. */
  sourceWaitCode?: string | undefined;
  /** When its next attempt is due: a batch fetched earlier (for another key's turn) does not try it. */
  dueAt?: number | undefined;
}

/**
 * What a batch leaves for the batches that fetch the rest of its partition again. Offsets name
 * events only as long as the topic lives (one deleted and created again starts over at 0), so
 * each entry carries a fingerprint of its event and is used only for that very event.
 */
interface Deferred {
  /** Events beyond the finished prefix that were applied or dead-lettered (offset: fingerprint): not done again. */
  readonly finished: ReadonlyMap<string, string>;
  /** The events that wait, by offset: their retry state. */
  readonly waits: ReadonlyMap<string, Waiting>;
}

/** An event that waits to be tried again. */
interface Waiting {
  readonly fingerprint: string;
  readonly state: RetryState;
}

const RETRY_INITIAL_MS = 200;
const RETRY_MAX_MS = 15_000;
/** Retries that wait inside the batch (about 1.4 s in all); later ones pause the partition instead. */
const RETRIES_IN_BATCH = 3;
/** A paused partition is fetched again no sooner than this: of many waiting keys, one is nearly always due. */
const MIN_PAUSE_MS = 1000;

/** Tells one event from another at the same offset (a topic deleted and created again). */
function fingerprintOf(e: ConsumedEvent): string {
  const hash = createHash('sha1').update(String(e.timestampMs)).update('\0');
  if (e.key !== null) hash.update(e.key);
  hash.update('\0');
  if (e.value !== null) hash.update(e.value);
  return hash.digest('base64');
}

/**
 * Handles one partition batch: decodes, dead-letters what can never apply, collapses updates
 * of a key to the highest version, applies keys concurrently (bounded) with retries, and
 * marks offsets done only as a contiguous prefix, so a crash or rebalance re-delivers exactly
 * what was not finished.
 */
export class BatchProcessor {
  readonly #d: ProcessorDeps;
  /** Per partition (topic/partition), what its last batch left when it paused to wait. */
  readonly #deferred = new Map<string, Deferred>();

  constructor(deps: ProcessorDeps) {
    this.#d = deps;
  }

  async handle(batch: PartitionBatch): Promise<void> {
    const first = batch.events[0];
    if (first === undefined) return;
    const partition = `${batch.topic}/${batch.partition}`;
    const earlier = this.#takeDeferred(partition);
    const tracker = new ContiguousOffsetTracker(first.offset);
    const finished: string[] = [];
    const finish = (events: readonly ConsumedEvent[]) => {
      for (const e of events) {
        finished.push(e.offset);
        const advanced = tracker.finish(e.offset);
        if (advanced !== undefined) batch.markDone(advanced.toString());
      }
      this.#d.onProgress();
    };
    const waits = new Map<string, { event: ConsumedEvent; state: RetryState }>();
    /** Fingerprints of the events skipped as finished, not computed twice. */
    const known = new Map<string, string>();
    let resumeAt: number | undefined;
    // A refused heartbeat means the group is rebalancing (or this member's session is in doubt):
    // the keys in flight finish, no new one starts, and the batch returns so this member can
    // rejoin in time (kafkajs' rebalance timeout) instead of being dropped while it still applies.
    // What was not marked done is fetched again, by whichever member gets the partition.
    let rebalancing = false;
    // Ends a dead letter's wait for a dead-letter topic that does not take it: that wait has no
    // bound of its own, and would hold the batch through the rebalance.
    const leaving = new AbortController();
    const heartbeat = setInterval(() => {
      batch.heartbeat().catch((err: unknown) => {
        if (!rebalancing) this.#d.logger.info({ err, partition: batch.partition }, 'heartbeat refused (rebalancing): finishing the keys in flight and starting no more');
        rebalancing = true;
        leaving.abort(err);
      });
    }, this.#d.heartbeatMs ?? 3000);
    const stop = new AbortController();
    // Each key being applied (up to `concurrency`) listens for the stop while it waits to retry.
    setMaxListeners(0, stop.signal);
    const onClose = () => stop.abort(this.#d.signal.reason);
    this.#d.signal.addEventListener('abort', onClose, { once: true });
    try {
      const updates: Array<{ event: ConsumedEvent; update: ShardUpdate }> = [];
      for (const event of batch.events) {
        const done = earlier?.finished.get(event.offset);
        if (done !== undefined && done === fingerprintOf(event)) {
          known.set(event.offset, done);
          finish([event]); // applied or dead-lettered by this process in an earlier batch
          continue;
        }
        const c = classify(event, this.#d.topology, this.#d.datacenter, this.#d.registry);
        if (c.kind === 'dead') {
          // Left unmarked, with everything after it, for whichever member gets the partition.
          if (!(await this.#deadLetterUnlessLeaving(event, c.code, c.message, stop.signal, leaving.signal))) break;
          finish([event]);
        } else if (c.kind === 'not-ours') {
          this.#d.metrics.skipped.inc({ reason: 'other-datacenters' });
          finish([event]);
        } else {
          updates.push({ event, update: c.update });
        }
      }
      await runBounded(groupByKey(updates), this.#d.concurrency, async (group) => {
        if (!batch.isActive() || stop.signal.aborted || rebalancing) return;
        const deferred = await this.#applyGroup(group, stop.signal, batch, earlier?.waits, waits, finish);
        if (deferred === undefined) finish(group.updates.map((u) => u.event));
        else resumeAt = Math.min(resumeAt ?? Infinity, deferred);
      });
      // Kept before the commit: a commit refused (a rebalance) must not lose it.
      if (!stop.signal.aborted) this.#keepDeferred(partition, batch, tracker.nextPending, finished, known, waits, earlier);
      if (batch.isActive()) await batch.commit();
      if (resumeAt !== undefined && batch.isActive() && !stop.signal.aborted) batch.pauseFor(Math.max(MIN_PAUSE_MS, resumeAt - Date.now()));
    } finally {
      clearInterval(heartbeat);
      this.#d.signal.removeEventListener('abort', onClose);
    }
  }

  /**
   * Applies the highest version of a key; if it can never apply, dead-letters it and tries the
   * next. Answers undefined when the key is finished, or when its next attempt is due if it must
   * wait longer than a batch should hold its partition (the key's events then stay unfinished).
   */
  async #applyGroup(
    group: KeyGroup,
    signal: AbortSignal,
    batch: PartitionBatch,
    earlier: Deferred['waits'] | undefined,
    waits: Map<string, { event: ConsumedEvent; state: RetryState }>,
    finish: (events: readonly ConsumedEvent[]) => void,
  ): Promise<number | undefined> {
    const byVersion = [...group.updates].sort((a, b) => compareVersions(b.update.version, a.update.version));
    // A higher version of the key may wait beyond this batch's end (a fetch that returned fewer
    // events): these are written meanwhile all the same. Holding them for it would leave the
    // partition uncommitted, and the higher version untried, for as long as fetches end before
    // it; written, they are superseded by it once it applies (highest version wins).
    const superseded = byVersion.length - 1;
    for (const [i, { event, update }] of byVersion.entries()) {
      const kept = earlier?.get(event.offset);
      const state = kept !== undefined && kept.fingerprint === fingerprintOf(event) ? kept.state : { attempt: 0 };
      const outcome = await this.#applyOne(event, update, signal, batch, state);
      if (typeof outcome === 'number') {
        waits.set(event.offset, { event, state });
        return outcome;
      }
      if (outcome === 'dead') {
        finish([event]); // never dead-lettered twice, even if the next version must wait
        continue;
      }
      if (superseded - i > 0) this.#d.metrics.skipped.inc({ reason: 'superseded' }, superseded - i);
      return undefined;
    }
    return undefined;
  }

  /**
   * Applies one update, retrying retriable failures with backoff. The first few retries wait in
   * the batch; later ones give the partition back (see {@link PartitionBatch.pauseFor}) and
   * answer when the next attempt is due, with `state` carrying the attempts and the source wait
   * over to the batch that fetches the event again. Abandoned (dead-lettered) once not retriable.
   */
  async #applyOne(event: ConsumedEvent, update: ShardUpdate, signal: AbortSignal, batch: PartitionBatch, state: RetryState): Promise<ApplyOutcome | 'dead' | number> {
    // Fetched again for another key's turn: this one waits for its own.
    if (state.dueAt !== undefined && state.dueAt > Date.now()) return state.dueAt;
    const end = this.#d.metrics.applySeconds.startTimer({ operation: update.operation });
    for (;;) {
      let outcome: ApplyOutcome;
      try {
        // Fenced from before the attempt reads the key: a put that may have outlived this
        // member's hold on the partition checks for a newer delete after writing.
        outcome = await this.#d.applier.apply(update, signal, batch.fence());
      } catch (err) {
        if (signal.aborted) throw err;
        // The source wait counts from the first of an unbroken run of "no source readable"
        // failures, so time spent waiting for something else (this datacenter's bucket, its
        // store) is not held against the source; nor is time spent unreadable held against a
        // source that then mismatches (each has its own wait), or the other way round.
        const code = codeOf(err);
        const waitMs = code === 'SHARDSYNC_SOURCE_UNAVAILABLE' ? this.#d.sourceWaitMs : code === 'SHARDSYNC_SOURCE_BYTES_MISMATCH' ? this.#d.sourceMismatchWaitMs : undefined;
        state.sourceMissingSince = waitMs === undefined ? undefined : state.sourceWaitCode === code ? (state.sourceMissingSince ?? Date.now()) : Date.now();
        state.sourceWaitCode = waitMs === undefined ? undefined : code;
        if (!isRetriableNow(err, state.sourceMissingSince, waitMs)) {
          await this.#deadLetter(event, code, err instanceof Error ? err.message : String(err), signal);
          return 'dead';
        }
        state.attempt += 1;
        const delayMs = backoffDelay(state.attempt, RETRY_INITIAL_MS, RETRY_MAX_MS, Math.random);
        this.#d.onProgress();
        this.#d.metrics.retries.inc({ code });
        logRetry(this.#d.logger, err, { dataset: update.dataset, key: update.key, attempt: state.attempt, delayMs }, 'apply failed; retrying');
        if (state.attempt > RETRIES_IN_BATCH) {
          state.dueAt = Date.now() + delayMs;
          return state.dueAt;
        }
        await sleep(delayMs, signal);
        continue;
      }
      end();
      if (outcome.result === 'applied') {
        this.#d.metrics.applied.inc({ operation: update.operation });
        this.#d.metrics.bytesApplied.inc(outcome.bytes);
        this.#d.metrics.replicationLagSeconds.observe(Math.max(0, Date.now() - update.producedAtMs) / 1000);
      } else {
        this.#d.metrics.skipped.inc({ reason: outcome.reason });
      }
      return outcome;
    }
  }

  /**
   * What earlier batches of the partition left. Never forgotten by age: a partition may go
   * unfetched for long while still owned (Kafka unreachable), and what is kept is matched by
   * fingerprint, so a partition this member lost and got back later is safe too. At most one
   * entry per partition, each bounded by a fetch's events.
   */
  #takeDeferred(partition: string): Deferred | undefined {
    const deferred = this.#deferred.get(partition);
    this.#deferred.delete(partition);
    return deferred;
  }

  /**
   * Keeps, for the batches that fetch the rest of the partition again, the events finished beyond
   * the finished prefix and the events that wait: this batch's, and an earlier batch's that this
   * one did not get to (beyond its end: a fetch may return fewer events; or not started: a
   * rebalance stopped the batch early).
   */
  #keepDeferred(
    partition: string,
    batch: PartitionBatch,
    nextPending: bigint,
    finished: readonly string[],
    known: ReadonlyMap<string, string>,
    waits: ReadonlyMap<string, { event: ConsumedEvent; state: RetryState }>,
    earlier: Deferred | undefined,
  ): void {
    const last = BigInt(batch.events.at(-1)?.offset ?? nextPending);
    if (nextPending > last && waits.size === 0 && earlier === undefined) return; // all finished: nothing to keep
    const byOffset = new Map(batch.events.map((e) => [e.offset, e]));
    const ahead = new Map<string, string>();
    for (const offset of finished) {
      const event = byOffset.get(offset);
      if (event !== undefined && BigInt(offset) > nextPending) ahead.set(offset, known.get(offset) ?? fingerprintOf(event));
    }
    for (const [offset, fingerprint] of earlier?.finished ?? []) if (BigInt(offset) > last) ahead.set(offset, fingerprint);
    const waiting = new Map<string, Waiting>([...waits].map(([offset, { event, state }]) => [offset, { fingerprint: fingerprintOf(event), state }]));
    const done = new Set(finished);
    for (const [offset, kept] of earlier?.waits ?? []) {
      if (waiting.has(offset) || done.has(offset)) continue;
      const event = byOffset.get(offset);
      if (BigInt(offset) > last || (event !== undefined && BigInt(offset) >= nextPending && fingerprintOf(event) === kept.fingerprint)) waiting.set(offset, kept);
    }
    if (ahead.size > 0 || waiting.size > 0) this.#deferred.set(partition, { finished: ahead, waits: waiting });
    else this.#deferred.delete(partition);
  }

  /**
   * {@link #deadLetter}, given up when `leaving` aborts first (a refused heartbeat): resolves false
   * then, the letter unwritten. A stop of the service (`signal`) still rejects, as it always did.
   */
  async #deadLetterUnlessLeaving(event: ConsumedEvent, code: string, message: string, signal: AbortSignal, leaving: AbortSignal): Promise<boolean> {
    if (leaving.aborted) return false;
    const either = new AbortController();
    const onStop = (): void => either.abort(signal.reason);
    const onLeave = (): void => either.abort(leaving.reason);
    signal.addEventListener('abort', onStop, { once: true });
    leaving.addEventListener('abort', onLeave, { once: true });
    try {
      await this.#deadLetter(event, code, message, either.signal);
      return true;
    } catch (err) {
      if (leaving.aborted && !signal.aborted) return false;
      throw err;
    } finally {
      signal.removeEventListener('abort', onStop);
      leaving.removeEventListener('abort', onLeave);
    }
  }

  async #deadLetter(event: ConsumedEvent, code: string, message: string, signal: AbortSignal): Promise<void> {
    let letter = toDeadLetter(event, { datacenter: this.#d.datacenter, code, message }, Date.now());
    const where = { topic: event.topic, partition: event.partition, offset: event.offset };
    await retry(
      async () => {
        try {
          await this.#d.deadLetters.append(this.#d.topology.kafka.topics.deadLetters, [letter]);
        } catch (err) {
          // Too large with its headers: sent again at once without the original's value.
          if (isMessageTooLarge(err) && letter.value.length > 0) letter = withoutValue(letter);
          throw err;
        }
      },
      {
        maxAttempts: Infinity,
        maxDelayMs: 10_000,
        signal,
        // Whatever Kafka answers (the topic missing, writes not authorised) is the environment's
        // to fix, not a reason to crash: a crash would stop every partition of the datacenter
        // and come back on the same event. The partition waits, visibly, as for a store that is down.
        isRetriable: () => true,
        onRetry: (err, attempt, delayMs) => {
          this.#d.onProgress();
          this.#d.metrics.retries.inc({ code: codeOf(err) });
          logRetry(this.#d.logger, err, { ...where, attempt, delayMs }, 'could not write a dead letter; retrying');
        },
      },
    );
    this.#d.metrics.deadLettered.inc({ code });
    this.#d.logger.error({ code, message, topic: event.topic, partition: event.partition, offset: event.offset }, 'event dead-lettered');
  }
}

/**
 * Retriable errors are retried (a missing bucket of this datacenter included: see
 * `LocalBucketMissingError`), except a missing source once it has been missing for too long.
 */
function isRetriableNow(err: unknown, sourceMissingSinceMs: number | undefined, sourceWaitMs: number | undefined): boolean {
  if (!isRetriable(err)) return false;
  if (sourceMissingSinceMs !== undefined && sourceWaitMs !== undefined && Date.now() - sourceMissingSinceMs > sourceWaitMs) return false;
  return true;
}
