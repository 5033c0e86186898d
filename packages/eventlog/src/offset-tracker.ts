/**
 * Tracks which offsets of one partition are finished when they finish out of order (keys of a
 * batch are applied concurrently) and answers the highest offset below which everything is
 * finished: the only offset that may be committed without risking loss after a crash.
 */
export class ContiguousOffsetTracker {
  #next: bigint;
  readonly #first: bigint;
  readonly #done = new Set<bigint>();

  /** @param firstOffset the first offset this tracker will see finish */
  constructor(firstOffset: string | bigint) {
    this.#next = BigInt(firstOffset);
    this.#first = this.#next;
  }

  /** Records `offset` as finished; returns the new committable prefix end if it advanced. */
  finish(offset: string | bigint): bigint | undefined {
    const o = BigInt(offset);
    if (o < this.#next) return undefined;
    this.#done.add(o);
    const before = this.#next;
    while (this.#done.delete(this.#next)) this.#next += 1n;
    return this.#next > before ? this.#next - 1n : undefined;
  }

  /** The last offset of the finished prefix, or undefined when even the first is pending. */
  get lastContiguous(): bigint | undefined {
    return this.#next === this.#first ? undefined : this.#next - 1n;
  }

  /** The first offset not finished yet. */
  get nextPending(): bigint {
    return this.#next;
  }
}
