import { randomUUID } from 'node:crypto';
import { classifyKafkaError, toConsumedEvent, type ConsumedEvent } from '@shardsync/eventlog';
import { CliError } from '../errors.js';
import type { KafkaClient } from '../context.js';
import { withCoordinatorRetry } from './coordinator-retry.js';

/** Offsets `[from, to)` of one partition. */
export interface PartitionRange {
  readonly partition: number;
  readonly from: bigint;
  readonly to: bigint;
}

/** What a reader callback may do while reading. */
export interface ReadSession {
  /** Continue this partition at `offset` (later offsets only; skipping ahead). */
  seek(partition: number, offset: bigint): void;
  /** Nothing more is needed from this partition. */
  finish(partition: number): void;
  /** End the whole read now. */
  stop(): void;
  /** Commits offsets (and offset metadata) for the reading group; only for groups that keep progress. */
  commit(entries: ReadonlyArray<{ partition: number; offset: bigint; metadata: string | null }>): Promise<void>;
}

export interface ReadRangesOptions {
  readonly topic: string;
  /**
   * The consumer group to read with. Default: a throw-away group that commits nothing, so reading
   * leaves no trace (an empty group without offsets is removed by the broker).
   */
  readonly groupId?: string | undefined;
  readonly ranges: readonly PartitionRange[];
  /** Events of one partition, in offset order, only those within its range (from its current position). */
  readonly onEvents: (partition: number, events: readonly ConsumedEvent[], session: ReadSession) => Promise<void> | void;
  /** Gives up after this long. */
  readonly timeoutMs: number;
  /** Bytes fetched per partition per request. Default 256 KiB: readers here want few events. */
  readonly maxBytesPerPartition?: number | undefined;
  /**
   * Stops the read (Ctrl-C): no batch is handed to `onEvents` after it fires, and the one being
   * handled is finished first (leaving the group waits for it), so what it commits stays consistent.
   */
  readonly signal?: AbortSignal | undefined;
}

/** How a read ended. `complete` is false when it timed out or was interrupted first. */
export interface ReadOutcome {
  readonly complete: boolean;
  /** True when `signal` stopped it. */
  readonly interrupted?: boolean | undefined;
}

/** Consumer groups of throw-away readers start with this, so operators recognise them. */
export const READER_GROUP_PREFIX = 'shardsync.cli.reader.';

type ReaderConsumer = ReturnType<KafkaClient['consumer']>;
type ReaderRunConfig = NonNullable<Parameters<ReaderConsumer['run']>[0]>;

interface PartitionState {
  next: bigint;
  readonly to: bigint;
  done: boolean;
}

/**
 * Reads given offset ranges of a topic through a consumer group member, because kafkajs has no
 * group-less fetch: join, seek each wanted partition to its start, hand events to the callback,
 * and leave once every range is read (or the callback stops, or the time is up). The group
 * commits nothing unless the callback calls `session.commit`.
 */
export async function readRanges(kafka: KafkaClient, options: ReadRangesOptions): Promise<ReadOutcome> {
  const { topic } = options;
  const states = new Map<number, PartitionState>();
  for (const r of options.ranges) if (r.from < r.to) states.set(r.partition, { next: r.from, to: r.to, done: false });
  if (states.size === 0) return { complete: true };
  if (options.signal?.aborted === true) return { complete: false, interrupted: true };

  const groupId = options.groupId ?? `${READER_GROUP_PREFIX}${randomUUID()}`;
  // The member reading now; replaced when a join is tried again (see `join` below).
  let consumer: ReaderConsumer | undefined;

  let settle: (outcome: ReadOutcome) => void = () => undefined;
  let fail: (err: unknown) => void = () => undefined;
  let ended = false;
  // Cancels a pending join retry once the read has ended (timed out, failed).
  const ending = new AbortController();
  const finished = new Promise<ReadOutcome>((resolve, reject) => {
    settle = (outcome) => {
      if (ended) return;
      ended = true;
      ending.abort(new Error(`reading ${topic} ended`));
      resolve(outcome);
    };
    fail = (err) => {
      if (ended) return;
      ended = true;
      ending.abort(new Error(`reading ${topic} ended`));
      reject(err instanceof CliError ? err : classifyKafkaError(err, `reading ${topic}`));
    };
  });
  const checkComplete = () => {
    if ([...states.values()].every((s) => s.done)) settle({ complete: true });
  };

  const session: ReadSession = {
    seek: (partition, offset) => {
      const state = states.get(partition);
      if (state === undefined || offset <= state.next) return;
      state.next = offset;
      if (offset >= state.to) {
        state.done = true;
        checkComplete();
      } else {
        consumer?.seek({ topic, partition, offset: offset.toString() });
      }
    },
    finish: (partition) => {
      const state = states.get(partition);
      if (state === undefined) return;
      state.done = true;
      checkComplete();
    },
    stop: () => settle({ complete: true }),
    commit: async (entries) => {
      if (consumer === undefined) throw new CliError('SHARDSYNC_CLI_FAILED', `committing the progress of group ${groupId}: the reader has no member in the group`);
      try {
        await consumer.commitOffsets(entries.map((e) => ({ topic, partition: e.partition, offset: e.offset.toString(), metadata: e.metadata })));
      } catch (err) {
        throw classifyKafkaError(err, `committing the progress of group ${groupId}`);
      }
    },
  };

  const runConfig: ReaderRunConfig = {
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 1,
    eachBatch: async (payload) => {
      const { batch } = payload;
      const state = states.get(batch.partition);
      if (ended || state === undefined || state.done || payload.isStale()) return;
      const events: ConsumedEvent[] = [];
      for (const m of batch.messages) {
        const offset = BigInt(m.offset);
        if (offset < state.next || offset >= state.to) continue;
        events.push(toConsumedEvent(topic, batch.partition, m));
      }
      const last = events[events.length - 1];
      try {
        if (events.length > 0) await options.onEvents(batch.partition, events, session);
      } catch (err) {
        fail(err);
        return;
      }
      if (last !== undefined && state.next <= BigInt(last.offset)) state.next = BigInt(last.offset) + 1n;
      // Nothing at or beyond `to` can come when the partition ends before it (retention moved, compaction).
      if (state.next >= state.to || BigInt(batch.highWatermark) <= state.next) state.done = true;
      checkComplete();
    },
  };

  /**
   * One attempt to put a member into the group and start it: resolves once it joined. A crash
   * before joining (e.g. the join refused with COORDINATOR_LOAD_IN_PROGRESS by a broker that just
   * started) disconnects the member and is thrown, for `withCoordinatorRetry` to decide whether
   * a new member tries again; a crash after joining ends the read.
   */
  const join = async (): Promise<void> => {
    const member = kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 256 * 1024,
      maxWaitTimeInMs: 500,
      // kafkajs would restart a crashed member on its own, without the seeks below: never.
      retry: { retries: 3, restartOnFailure: async () => false },
    });
    consumer = member;
    let joined = false;
    let crash: { error: unknown } | undefined;
    member.on(member.events.CRASH, (e) => {
      if (joined) fail(e.payload.error);
      else crash = { error: e.payload.error };
    });
    member.on(member.events.GROUP_JOIN, (e) => {
      joined = true;
      const assigned = new Set(e.payload.memberAssignment[topic] ?? []);
      const missing = [...states.keys()].filter((p) => !assigned.has(p));
      if (missing.length > 0) {
        fail(
          new CliError('SHARDSYNC_CLI_CONFLICT', `consumer group ${groupId} has other members, which hold partitions ${missing.join(', ')} of ${topic}`, {
            hint: 'another shardsync command is probably reading with the same group; wait for it to finish',
          }),
        );
      }
    });
    try {
      await member.connect();
      await member.subscribe({ topics: [topic], fromBeginning: false });
      // Resolves once the member joined, or after it crashed trying.
      await member.run(runConfig);
    } catch (err) {
      crash ??= { error: err };
    }
    if (crash !== undefined) {
      await member.disconnect().catch(() => undefined);
      throw crash.error;
    }
    for (const [partition, state] of states) member.seek({ topic, partition, offset: state.next.toString() });
  };

  const timer = setTimeout(() => settle({ complete: false }), options.timeoutMs);
  const onAbort = () => settle({ complete: false, interrupted: true });
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    try {
      await withCoordinatorRetry(`joining consumer group ${groupId} to read ${topic}`, join, { signal: ending.signal });
    } catch (err) {
      fail(err);
    }
    return await finished;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    await consumer?.disconnect().catch(() => undefined);
  }
}
