/**
 * The resumes of partitions a batch handler paused (`PartitionBatch.pauseFor`): each runs when its
 * delay is over, or at once when the group's membership changes. kafkajs keeps a paused
 * partition paused across rebalances, so without that a partition handed back to this member
 * would sit idle until its old delay ran out, although the handler's waiting state for it was
 * dropped with the assignment. Resuming early is harmless: a handler that still has events
 * waiting pauses again.
 */
export class PartitionResumes {
  readonly #pending = new Map<NodeJS.Timeout, () => void>();
  #closed = false;

  /** Runs `resume` after `ms`, unless the membership changes first (then at once) or this closes. */
  after(ms: number, resume: () => void): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#pending.delete(timer);
      resume();
    }, ms);
    this.#pending.set(timer, resume);
  }

  /** Runs every pending resume now (the group's membership changed). */
  resumeAll(): void {
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const [timer, resume] of pending) {
      clearTimeout(timer);
      resume();
    }
  }

  /** Drops every pending resume (the consumer is closing); later pauses are not resumed. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#pending.keys()) clearTimeout(timer);
    this.#pending.clear();
  }
}
