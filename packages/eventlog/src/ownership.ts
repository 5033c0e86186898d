/**
 * Whether this member still owns the partitions it was given, as far as it can tell without
 * asking the coordinator. Taken before work on a partition begins and checked after a write, it
 * tells a write that may have landed after the partition went to another member (this one a
 * "zombie": its session expired, or a rebalance went on without it) from one that cannot have.
 */
export interface OwnershipFence {
  /** True only if no other member can have been given this member's partitions since the fence was taken. */
  held(): boolean;
}

/**
 * Ownership as a lease on the group session. A successful heartbeat (or join) at time `h` means
 * the coordinator then had this member in the current generation, with no rebalance under way.
 * The partitions can go to another member only once the session expires (no heartbeat for the
 * session timeout: at `h + sessionTimeout` at the earliest) or a rebalance that started after `h`
 * ends without this member (after the rebalance timeout, longer than the session timeout). So
 * until `h + window`, with `window` well inside the session timeout (half of it: the heartbeat's
 * own round trip and the coordinator's clock sit in the other half), no other member owns them.
 * Any membership change (a new join, a crash, a stop) ends every fence taken before it.
 */
export class SessionOwnership {
  readonly #windowMs: number;
  readonly #now: () => number;
  #epoch = 0;
  #member = false;
  #confirmedAt: number | undefined;

  constructor(sessionTimeoutMs: number, now: () => number = () => performance.now()) {
    this.#windowMs = sessionTimeoutMs / 2;
    this.#now = now;
  }

  /** The coordinator answered a heartbeat: the session runs on (if there is one: not after a loss before the next join). */
  confirmed(): void {
    if (this.#member) this.#confirmedAt = this.#now();
  }

  /** The member joined the group again (a new generation, maybe other partitions): earlier fences end. */
  joined(): void {
    this.#epoch += 1;
    this.#member = true;
    this.#confirmedAt = this.#now();
  }

  /** The member left, crashed or stopped: earlier fences end, and none holds until it joins again. */
  lost(): void {
    this.#epoch += 1;
    this.#member = false;
    this.#confirmedAt = undefined;
  }

  fence(): OwnershipFence {
    const epoch = this.#epoch;
    return {
      held: () => epoch === this.#epoch && this.#confirmedAt !== undefined && this.#now() - this.#confirmedAt < this.#windowMs,
    };
  }
}
