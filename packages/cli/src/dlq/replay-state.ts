/**
 * What `dlq replay` has already sent back, kept in Kafka itself as the committed offset (and offset
 * metadata) of one consumer group per dead-letter partition, so a second replay never resends a
 * letter and no other store is needed.
 *
 * - The committed offset is a watermark: every letter below it was replayed (or can never be).
 * - A filtered replay (`--datacenter`, `--code`) leaves non-matching letters behind, so the
 *   letters it did replay above the first one left behind are listed in the offset metadata as
 *   inclusive offset ranges: `{"v":1,"r":[[12,40],[45,45]]}`.
 *
 * Brokers cap offset metadata (`offset.metadata.max.bytes`, 4096 by default), so the ranges are
 * capped at {@link MAX_REPLAY_RANGES}; a replay that would need more stops early and says so.
 */
export const DLQ_REPLAY_GROUP = 'shardsync.dlq-replay';

/** Ranges kept in the offset metadata; about 40 bytes each, well under the broker's 4096. */
export const MAX_REPLAY_RANGES = 80;

/** Inclusive offset range. */
export type OffsetRange = readonly [bigint, bigint];

export interface ReplayState {
  /** Every letter below this offset is done. */
  readonly watermark: bigint;
  /** Replayed letters at or above the watermark, as sorted, disjoint, non-adjacent inclusive ranges. */
  readonly replayed: readonly OffsetRange[];
}

/**
 * Reads a partition's state from the group's committed offset and metadata. A missing or negative
 * offset means nothing was replayed yet; metadata that does not parse is ignored, which can only
 * make a later replay resend letters, never skip them.
 */
export function parseReplayState(committed: string | undefined, metadata: string | null | undefined, low: bigint): ReplayState {
  const offset = committed === undefined || committed === '' || committed.startsWith('-') ? low : BigInt(committed);
  return settle(offset < low ? low : offset, parseRanges(metadata));
}

/** Normalises the ranges and lets the watermark absorb a range that starts at it. */
function settle(watermark: bigint, ranges: readonly OffsetRange[]): ReplayState {
  let mark = watermark;
  let list = normalise(ranges, mark);
  while (list[0] !== undefined && list[0][0] <= mark) {
    mark = list[0][1] + 1n;
    list = normalise(list.slice(1), mark);
  }
  return { watermark: mark, replayed: list };
}

function parseRanges(metadata: string | null | undefined): OffsetRange[] {
  if (metadata === null || metadata === undefined || metadata === '') return [];
  try {
    const parsed = JSON.parse(metadata) as { v?: unknown; r?: unknown };
    if (parsed.v !== 1 || !Array.isArray(parsed.r)) return [];
    const out: OffsetRange[] = [];
    for (const item of parsed.r as unknown[]) {
      if (!Array.isArray(item) || item.length !== 2) return [];
      const [a, b] = item as unknown[];
      if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || (a as number) > (b as number)) return [];
      out.push([BigInt(a as number), BigInt(b as number)]);
    }
    return out;
  } catch {
    return [];
  }
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

/** The offset metadata string for a state. */
export function encodeReplayState(state: ReplayState): string {
  return JSON.stringify({ v: 1, r: state.replayed.map(([a, b]) => [Number(a), Number(b)]) });
}

/** Whether the letter at `offset` was already replayed. */
export function isReplayed(state: ReplayState, offset: bigint): boolean {
  if (offset < state.watermark) return true;
  return state.replayed.some(([a, b]) => offset >= a && offset <= b);
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
 * left behind become ranges.
 */
export class ReplayTracker {
  #watermark: bigint;
  #ranges: Array<[bigint, bigint]>;
  #prefixOpen = true;

  constructor(state: ReplayState) {
    this.#watermark = state.watermark;
    this.#ranges = state.replayed.map(([a, b]) => [a, b]);
  }

  /** Whether `offset` was replayed by an earlier run (or earlier in this one). */
  isReplayed(offset: bigint): boolean {
    return isReplayed(this.state, offset);
  }

  /** Whether marking `offset` done keeps the ranges within {@link MAX_REPLAY_RANGES}. */
  canMarkDone(offset: bigint): boolean {
    if (this.#prefixOpen || this.isReplayed(offset)) return true;
    const touches = this.#ranges.some(([a, b]) => offset >= a - 1n && offset <= b + 1n);
    return touches || this.#ranges.length < MAX_REPLAY_RANGES;
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

  /** The letter at `offset` stays for a later replay (it did not match the filters). */
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
    return { watermark: this.#watermark, replayed: this.#ranges.map(([a, b]): OffsetRange => [a, b]) };
  }
}
