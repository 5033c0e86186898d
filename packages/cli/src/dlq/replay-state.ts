/**
 * What `dlq replay` has already sent back and `dlq discard` has discarded, kept in Kafka itself as
 * the committed offset (and offset metadata) of one consumer group per dead-letter partition, so a
 * second replay never resends a letter, never sends a discarded one, and no other store is needed.
 *
 * - The committed offset is a watermark: every letter below it is done: replayed, discarded, or
 *   never replayable (a record without dead-letter headers).
 * - A filtered replay or discard (`--datacenter`, `--code`) leaves non-matching letters behind, so
 *   the letters it did handle above the first one left behind are listed in the offset metadata as
 *   inclusive offset ranges: `{"v":1,"r":[[12,40],[45,45]]}`.
 * - Discarded letters are also listed, under `d`, below the watermark too, so `dlq list` can tell
 *   them from replayed ones until retention removes them: `{"v":1,"r":[],"d":[[3,3],[7,9]]}`. A
 *   reader that does not know `d` still sees them as done, so it never replays them.
 *
 * Brokers cap offset metadata (`offset.metadata.max.bytes`, 4096 by default), so the ranges (both
 * kinds together) are capped at {@link MAX_REPLAY_RANGES}; a replay or discard that would need more
 * stops early and says so.
 */
export const DLQ_REPLAY_GROUP = 'shardsync.dlq-replay';

/** Ranges kept in the offset metadata, replayed and discarded together; about 40 bytes each, well under the broker's 4096. */
export const MAX_REPLAY_RANGES = 80;

/** Inclusive offset range. */
export type OffsetRange = readonly [bigint, bigint];

export interface ReplayState {
  /** Every letter below this offset is done. */
  readonly watermark: bigint;
  /** Letters done (replayed or discarded) at or above the watermark, as sorted, disjoint, non-adjacent inclusive ranges. */
  readonly replayed: readonly OffsetRange[];
  /** Letters `dlq discard` discarded, below the watermark or not, in the same form; a subset of the done letters. */
  readonly discarded: readonly OffsetRange[];
}

/** What became of one letter: still waiting, sent back by `dlq replay`, or given up by `dlq discard`. */
export type LetterState = 'pending' | 'replayed' | 'discarded';

/**
 * Reads a partition's state from the group's committed offset and metadata. A missing or negative
 * offset means nothing was replayed yet; metadata that does not parse is ignored, which can only
 * make a later replay resend letters, never skip them.
 */
export function parseReplayState(committed: string | undefined, metadata: string | null | undefined, low: bigint): ReplayState {
  const offset = committed === undefined || committed === '' || committed.startsWith('-') ? low : BigInt(committed);
  const { replayed, discarded } = parseMetadata(metadata);
  // A discarded letter is done even if only `d` lists it (metadata written by hand, or by a bug).
  return { ...settle(offset < low ? low : offset, [...replayed, ...discarded]), discarded: normalise(discarded, low) };
}

/** Normalises the ranges and lets the watermark absorb a range that starts at it. */
function settle(watermark: bigint, ranges: readonly OffsetRange[]): { watermark: bigint; replayed: OffsetRange[] } {
  let mark = watermark;
  let list = normalise(ranges, mark);
  while (list[0] !== undefined && list[0][0] <= mark) {
    mark = list[0][1] + 1n;
    list = normalise(list.slice(1), mark);
  }
  return { watermark: mark, replayed: list };
}

/**
 * The ranges of the offset metadata. Metadata that does not parse yields no ranges at all; a
 * malformed `d` alone loses only the discard annotation (those letters stay done through `r` or
 * the watermark).
 */
function parseMetadata(metadata: string | null | undefined): { replayed: OffsetRange[]; discarded: OffsetRange[] } {
  const none = { replayed: [], discarded: [] };
  if (metadata === null || metadata === undefined || metadata === '') return none;
  try {
    const parsed = JSON.parse(metadata) as { v?: unknown; r?: unknown; d?: unknown };
    if (parsed.v !== 1) return none;
    const replayed = parseRanges(parsed.r);
    if (replayed === undefined) return none;
    return { replayed, discarded: parsed.d === undefined ? [] : (parseRanges(parsed.d) ?? []) };
  } catch {
    return none;
  }
}

function parseRanges(value: unknown): OffsetRange[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: OffsetRange[] = [];
  for (const item of value as unknown[]) {
    if (!Array.isArray(item) || item.length !== 2) return undefined;
    const [a, b] = item as unknown[];
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || (a as number) > (b as number)) return undefined;
    out.push([BigInt(a as number), BigInt(b as number)]);
  }
  return out;
}

/** Sorts, merges overlapping or adjacent ranges and drops what lies below the watermark. */
function normalise(ranges: readonly OffsetRange[], watermark: bigint): OffsetRange[] {
  const sorted = ranges
    .filter(([, b]) => b >= watermark)
    .map(([a, b]): OffsetRange => [a < watermark ? watermark : a, b])
    .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const out: Array<[bigint, bigint]> = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && a <= last[1] + 1n) last[1] = b > last[1] ? b : last[1];
    else out.push([a, b]);
  }
  return out;
}

/** The offset metadata string for a state (without `d` when nothing was discarded, as before discards existed). */
export function encodeReplayState(state: ReplayState): string {
  const ranges = (list: readonly OffsetRange[]) => list.map(([a, b]) => [Number(a), Number(b)]);
  return JSON.stringify(state.discarded.length === 0 ? { v: 1, r: ranges(state.replayed) } : { v: 1, r: ranges(state.replayed), d: ranges(state.discarded) });
}

function inRanges(ranges: readonly OffsetRange[], offset: bigint): boolean {
  return ranges.some(([a, b]) => offset >= a && offset <= b);
}

/** Whether the letter at `offset` is done: replayed, discarded, or never replayable. */
export function isReplayed(state: ReplayState, offset: bigint): boolean {
  return offset < state.watermark || inRanges(state.replayed, offset);
}

/** Whether the letter at `offset` was discarded. */
export function isDiscarded(state: ReplayState, offset: bigint): boolean {
  return inRanges(state.discarded, offset);
}

/** What became of the letter at `offset`. */
export function letterState(state: ReplayState, offset: bigint): LetterState {
  if (isDiscarded(state, offset)) return 'discarded';
  return isReplayed(state, offset) ? 'replayed' : 'pending';
}

/** Discarded letters in `[low, high)`. */
export function discardedCount(state: ReplayState, low: bigint, high: bigint): number {
  let count = 0n;
  for (const [a, b] of state.discarded) {
    const from = a > low ? a : low;
    const to = b + 1n < high ? b + 1n : high;
    if (to > from) count += to - from;
  }
  return Number(count);
}

/** Letters in `[watermark, high)` not replayed yet (an upper bound when the partition has offset gaps). */
export function pendingCount(state: ReplayState, low: bigint, high: bigint): number {
  const start = state.watermark > low ? state.watermark : low;
  if (high <= start) return 0;
  let pending = high - start;
  for (const [a, b] of state.replayed) {
    const from = a > start ? a : start;
    const to = b + 1n < high ? b + 1n : high;
    if (to > from) pending -= to - from;
  }
  return Number(pending);
}

/**
 * Updates a partition's state while letters are scanned in offset order from the watermark: the
 * watermark moves over the unbroken run of done letters, and done letters after the first one
 * left behind become ranges. Discarded letters are done letters that are also recorded as such.
 */
export class ReplayTracker {
  #watermark: bigint;
  #ranges: Array<[bigint, bigint]>;
  #discarded: Array<[bigint, bigint]>;
  #prefixOpen = true;

  constructor(state: ReplayState) {
    this.#watermark = state.watermark;
    this.#ranges = state.replayed.map(([a, b]) => [a, b]);
    this.#discarded = state.discarded.map(([a, b]) => [a, b]);
  }

  /** Whether `offset` is done (replayed or discarded) by an earlier run (or earlier in this one). */
  isReplayed(offset: bigint): boolean {
    return isReplayed(this.state, offset);
  }

  /** Whether marking `offset` done keeps the ranges within {@link MAX_REPLAY_RANGES}. */
  canMarkDone(offset: bigint): boolean {
    return this.#newRanges(offset, false) === 0 || this.#rangeCount() + this.#newRanges(offset, false) <= MAX_REPLAY_RANGES;
  }

  /** Whether discarding `offset` keeps the ranges, those of discarded letters included, within {@link MAX_REPLAY_RANGES}. */
  canDiscard(offset: bigint): boolean {
    return this.#newRanges(offset, true) === 0 || this.#rangeCount() + this.#newRanges(offset, true) <= MAX_REPLAY_RANGES;
  }

  #rangeCount(): number {
    return this.#ranges.length + this.#discarded.length;
  }

  /** Ranges the metadata gains, at most, when `offset` is done (and discarded): one of each kind unless it extends one. */
  #newRanges(offset: bigint, discard: boolean): number {
    const touches = (ranges: ReadonlyArray<readonly [bigint, bigint]>) => ranges.some(([a, b]) => offset >= a - 1n && offset <= b + 1n);
    const done = this.#prefixOpen || this.isReplayed(offset) || touches(this.#ranges) ? 0 : 1;
    return done + (discard && !touches(this.#discarded) ? 1 : 0);
  }

  /** The letter at `offset` was replayed now, was replayed before, or can never be replayed. */
  markDone(offset: bigint): void {
    if (this.#prefixOpen) {
      if (offset >= this.#watermark) this.#watermark = offset + 1n;
    } else {
      this.#ranges.push([offset, offset]);
    }
    this.#settle();
  }

  /** The letter at `offset` was discarded now: done, and recorded as discarded. */
  markDiscarded(offset: bigint): void {
    this.markDone(offset);
    this.#discarded = normalise([...this.#discarded, [offset, offset]], 0n).map(([a, b]) => [a, b]);
  }

  /** The letter at `offset` stays for later (it did not match the filters). */
  markPending(offset: bigint): void {
    if (offset >= this.#watermark) this.#prefixOpen = false;
  }

  /** The scan reached `end` (exclusive) without gaps left behind: the watermark can move there. */
  complete(end: bigint): void {
    if (this.#prefixOpen && end > this.#watermark) {
      this.#watermark = end;
      this.#settle();
    }
  }

  #settle(): void {
    const settled = settle(this.#watermark, this.#ranges);
    this.#watermark = settled.watermark;
    this.#ranges = settled.replayed.map(([a, b]) => [a, b]);
  }

  get state(): ReplayState {
    const copy = (ranges: ReadonlyArray<readonly [bigint, bigint]>) => ranges.map(([a, b]): OffsetRange => [a, b]);
    return { watermark: this.#watermark, replayed: copy(this.#ranges), discarded: copy(this.#discarded) };
  }
}
