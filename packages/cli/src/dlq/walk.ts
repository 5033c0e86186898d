import type { ConsumedEvent, DeadLetterInfo } from '@shardsync/eventlog';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { readRanges } from '../kafka/topic-reader.js';
import { ensureNoOtherRun } from './exclusive.js';
import { matchesFilter, viewOf, type DeadLetterFilter, type DeadLetterView } from './letters.js';
import { loadPartitionsForCommand } from './load.js';
import { formatPositions, type LetterPositions } from './positions.js';
import { DLQ_REPLAY_GROUP, encodeReplayState, ReplayTracker } from './replay-state.js';

/**
 * What a command does with a pending letter that matches its filter; each is recorded in the
 * replay state, so no later run handles the letter again:
 * - `take`: the command handles it now (`dlq replay` sends it back); recorded as done;
 * - `discard`: the command gives it up; recorded as done and as discarded;
 * - `skip-duplicate`: a letter of the same update was taken already; recorded as done;
 * - `leave`: the command will not handle it (e.g. too old to replay safely); it stays pending,
 *   for an operator to look at, and later runs see it again.
 */
export type LetterDecision = 'take' | 'discard' | 'skip-duplicate' | 'leave';

/** A pending dead letter that matches the filter: the record, and how `dlq list` shows it. */
export interface PendingLetter {
  readonly event: ConsumedEvent;
  readonly view: DeadLetterView & { readonly deadLetter: DeadLetterInfo };
}

/** How a command handles the pending letters that match its filter. */
export interface LetterPolicy {
  /**
   * What to do with the letter. It must change nothing: when the replay state has no room left to
   * record the decision, the walk stops before this letter and the decision is dropped.
   */
  decide(letter: PendingLetter): LetterDecision;
  /** The decision is recorded (committed with the batch unless dry run): act on it, e.g. remember or list the letter. */
  recorded(letter: PendingLetter, decision: LetterDecision): void;
}

/** What a walk saw. */
export interface WalkCounts {
  /** Letters read (those not replayed or discarded by an earlier run). */
  scanned: number;
  /** Records without dead-letter headers: never replayable, settled as done without a decision. */
  ignored: number;
  /** Letters left pending because they do not match the filter. */
  notMatching: number;
  /** Letters per decision. */
  readonly decisions: Record<LetterDecision, number>;
}

export function emptyCounts(): WalkCounts {
  return { scanned: 0, ignored: 0, notMatching: 0, decisions: { take: 0, discard: 0, 'skip-duplicate': 0, leave: 0 } };
}

/** What {@link settleLetters} did with one batch. */
export interface SettledBatch {
  /** The letters decided `take`, in offset order. */
  readonly taken: readonly PendingLetter[];
  /** True when it stopped before a letter whose decision the replay state had no room to record. */
  readonly stopped: boolean;
  /** Offset of the last record it settled, if any. */
  readonly lastSettled: bigint | undefined;
}

/**
 * Settles one partition's letters, read in offset order from the tracker's watermark: a letter
 * handled by an earlier run stays done (and is not counted), a record without dead-letter headers
 * becomes done, a letter the filter excludes stays pending, and a matching one is recorded as the
 * policy decides. Stops before a letter whose decision would need more ranges than the replay
 * state may keep (see `MAX_REPLAY_RANGES`).
 */
export function settleLetters(tracker: ReplayTracker, events: readonly ConsumedEvent[], filter: DeadLetterFilter, policy: LetterPolicy, counts: WalkCounts): SettledBatch {
  const taken: PendingLetter[] = [];
  let lastSettled: bigint | undefined;
  for (const event of events) {
    const offset = BigInt(event.offset);
    if (tracker.isReplayed(offset)) {
      tracker.markDone(offset);
      lastSettled = offset;
      continue;
    }
    const view = viewOf(event, 'pending');
    const { deadLetter } = view;
    const letter: PendingLetter | undefined = deadLetter !== undefined && matchesFilter(deadLetter, filter) ? { event, view: { ...view, deadLetter } } : undefined;
    const decided = letter === undefined ? undefined : { letter, decision: policy.decide(letter) };
    if (decided !== undefined && decided.decision !== 'leave' && !(decided.decision === 'discard' ? tracker.canDiscard(offset) : tracker.canMarkDone(offset))) return { taken, stopped: true, lastSettled };
    counts.scanned++;
    lastSettled = offset;
    if (deadLetter === undefined) {
      counts.ignored++;
      tracker.markDone(offset);
    } else if (decided === undefined) {
      counts.notMatching++;
      tracker.markPending(offset);
    } else {
      const { decision } = decided;
      counts.decisions[decision]++;
      if (decision === 'discard') tracker.markDiscarded(offset);
      else if (decision === 'leave') tracker.markPending(offset);
      else tracker.markDone(offset);
      if (decision === 'take') taken.push(decided.letter);
      policy.recorded(decided.letter, decision);
    }
  }
  return { taken, stopped: false, lastSettled };
}

/** Options `dlq replay` and `dlq discard` share: which letters, and how. */
export interface PendingLetterOptions extends DeadLetterFilter {
  /** Show what would be done; send and record nothing. Default false. */
  readonly dryRun?: boolean | undefined;
  /** Consumer group that keeps what was replayed and discarded. Default `shardsync.dlq-replay`. */
  readonly groupId?: string | undefined;
  /** Give up after this long; what was handled until then stays recorded. Default 30 min. */
  readonly timeoutMs?: number | undefined;
  /** Read no further than these offsets (see {@link LetterPositions}). Default: to the end of every partition. */
  readonly through?: LetterPositions | undefined;
}

/** {@link PendingLetterOptions} with the defaults filled in. */
export interface PendingWalk {
  readonly filter: DeadLetterFilter;
  readonly dryRun: boolean;
  readonly groupId: string;
  readonly timeoutMs: number;
  readonly through: LetterPositions | undefined;
}

export function compilePendingLetterOptions(options: PendingLetterOptions): PendingWalk {
  return {
    filter: { datacenter: options.datacenter, code: options.code },
    dryRun: options.dryRun ?? false,
    groupId: options.groupId ?? DLQ_REPLAY_GROUP,
    timeoutMs: options.timeoutMs ?? 30 * 60_000,
    through: options.through,
  };
}

export interface WalkHandlers {
  /** Progress label of a real run, e.g. `replaying dead letters`; a dry run shows `checking dead letters`. */
  readonly activity: string;
  readonly policy: LetterPolicy;
  /** After each batch is settled and before its progress is committed (never in a dry run): e.g. send what it took. */
  readonly beforeCommit?: ((taken: readonly PendingLetter[]) => Promise<void>) | undefined;
}

/** How a walk ended. */
export interface WalkResult {
  /** The dead-letter topic. */
  readonly topic: string;
  /** False when the time ran out or it was interrupted first; what was committed until then stays recorded. */
  readonly complete: boolean;
  /** True when the operator interrupted it (Ctrl-C). */
  readonly interrupted: boolean;
  /** True when it stopped before the end because the record of handled letters is full. */
  readonly stoppedEarly: boolean;
  readonly counts: WalkCounts;
  /**
   * The last offset settled in each partition that had records to read: a later run given these
   * as its `through` acts on no letter this walk did not see.
   */
  readonly through: LetterPositions;
}

/**
 * Reads the letters of the dead-letter topic that no earlier run handled, settles each batch
 * (see {@link settleLetters}) and, unless dry run, commits the partition's replay state after it,
 * so an interrupted run resumes where it stopped. Refuses to start while another run holds the
 * group (two writers would overwrite each other's state).
 */
export async function walkPendingLetters(ctx: CliContext, walk: PendingWalk, handlers: WalkHandlers): Promise<WalkResult> {
  const { dryRun, groupId } = walk;
  const topic = ctx.topology.kafka.topics.deadLetters;
  const partitions = await loadPartitionsForCommand(ctx, topic, groupId, async (admin) => {
    if (!dryRun) await ensureNoOtherRun(admin, groupId);
  });
  const ranges = readableRanges(partitions, walk.through, topic);
  const total = ranges.reduce((sum, r) => sum + Number(r.to - r.from), 0);
  const trackers = new Map(partitions.map((p) => [p.partition, new ReplayTracker(p.state)]));
  const ends = new Map(ranges.map((r) => [r.partition, r.to]));
  const settledThrough = new Map<number, bigint>();
  const counts = emptyCounts();
  let stoppedEarly = false;

  const outcome = await readRanges(ctx.kafka(), {
    topic,
    // A dry run reads with a throw-away group, so it neither records anything nor disturbs a real run.
    groupId: dryRun ? undefined : groupId,
    ranges,
    timeoutMs: walk.timeoutMs,
    signal: ctx.signal,
    onEvents: async (partition, events, session) => {
      const tracker = trackers.get(partition);
      if (tracker === undefined) return;
      const settled = settleLetters(tracker, events, walk.filter, handlers.policy, counts);
      if (settled.lastSettled !== undefined) settledThrough.set(partition, settled.lastSettled);
      if (settled.stopped) {
        stoppedEarly = true;
        session.stop();
      }
      const last = events[events.length - 1];
      const end = ends.get(partition);
      if (!stoppedEarly && last !== undefined && end !== undefined && BigInt(last.offset) + 1n >= end) tracker.complete(end);
      if (!dryRun) {
        await handlers.beforeCommit?.(settled.taken);
        const { state } = tracker;
        await session.commit([{ partition, offset: state.watermark, metadata: encodeReplayState(state) }]);
      }
      ctx.progress.update(dryRun ? 'checking dead letters' : handlers.activity, counts.scanned, total);
    },
  });
  ctx.progress.stop();
  return { topic, complete: outcome.complete, interrupted: outcome.interrupted === true, stoppedEarly, counts, through: settledThrough };
}

/**
 * What to read of each partition: from where the replay state's watermark says no earlier run
 * handled everything, to its end, or to the offset after `through`'s (whose unnamed partitions
 * are not read). A `through` naming a partition the topic does not have is a mistake: refused.
 */
function readableRanges(partitions: ReadonlyArray<{ partition: number; high: bigint; state: { watermark: bigint } }>, through: LetterPositions | undefined, topic: string) {
  if (through !== undefined) {
    const unknown = [...through.keys()].filter((partition) => !partitions.some((p) => p.partition === partition));
    if (unknown.length > 0) {
      throw new UsageError(`--through names partition(s) ${unknown.join(', ')}, which ${topic} does not have (it has ${partitions.length})`, `give the positions the dry run printed (${formatPositions(through)} was given)`);
    }
  }
  return partitions.flatMap((p) => {
    const last = through === undefined ? p.high - 1n : through.get(p.partition);
    if (last === undefined) return [];
    const to = last + 1n < p.high ? last + 1n : p.high;
    return p.state.watermark < to ? [{ partition: p.partition, from: p.state.watermark, to }] : [];
  });
}
