import { ClockDriftError, InvalidVersionError } from './errors.js';
import { assertVersion, compareVersions, MAX_LOGICAL, producerIdProblem, type Version } from './version.js';

/** Source of wall-clock time, injectable so tests control it. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/** The real wall clock. */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * A durable upper bound on the physical time a clock may issue (the producer's clock lease). Within
 * one process the clock never goes backwards; this is what carries that across a restart: the
 * bound is persisted before any version reaches it, and the next run of the same producer id
 * starts above the bound its previous run persisted, whatever its wall clock says.
 */
export interface PhysicalTimeLease {
  /**
   * The bound persisted by the previous run of this producer id: every version that run issued has
   * a physical time at or below it. Undefined when there was none.
   */
  readonly previousBoundMs: number | undefined;
  /**
   * Throws unless versions with this physical time may be issued now, i.e. it is at or below the
   * persisted bound; the clock then issues nothing. Runs on every tick: synchronous and cheap.
   */
  admit(physicalMs: number): void;
}

/** Default for {@link HybridLogicalClockOptions.maxDriftMs}: one minute. */
export const DEFAULT_MAX_CLOCK_DRIFT_MS = 60_000;

/** What a producer passes to {@link HybridLogicalClock}. */
export interface HybridLogicalClockOptions {
  /**
   * Identifies this producer in every version it issues (see `PRODUCER_ID_PATTERN`). Must be
   * unique among running processes. Without a {@link lease} it should differ per run too, e.g.
   * `<host>-<start time>`: a restarted producer whose clock stepped backwards could otherwise
   * re-issue a version it issued before the restart, and the second update would be skipped as a
   * duplicate. With a lease, a stable id (e.g. a pod name) is what keeps every version of a run
   * above those of the runs before it.
   */
  readonly producerId: string;
  /** Wall clock. Default {@link systemClock}. */
  readonly clock?: Clock;
  /**
   * How far ahead of the local clock an observed version may be, in milliseconds, before
   * {@link HybridLogicalClock.observe} refuses it. Default {@link DEFAULT_MAX_CLOCK_DRIFT_MS}.
   */
  readonly maxDriftMs?: number;
  /**
   * Keeps versions above those of earlier runs of this producer id, and every version issued at or
   * below its persisted bound. Default none: versions then only increase within this process.
   */
  readonly lease?: PhysicalTimeLease;
}

/**
 * Issues versions that never go backwards and that exceed every version this producer has seen.
 *
 * Each version is the larger of the wall clock and the last version issued or observed, plus a
 * logical counter when the wall clock has not moved (or moved backwards: physical time is held,
 * never rewound). Observing the current version of a key before writing it therefore guarantees
 * the write wins over what the producer saw: causality is kept for every update it has seen.
 *
 * Clock skew and "highest version wins": for concurrent updates the producer has NOT seen, the
 * version with the later physical time wins, so a producer whose clock runs fast by S ms wins
 * races against updates issued up to S ms after its own. That is the price of needing no
 * coordination. `maxDriftMs` bounds the damage: a version more than that far in the future is
 * refused instead of being adopted, so one badly skewed clock cannot drag every producer's
 * versions (and every later race) along with it.
 */
export class HybridLogicalClock {
  readonly producerId: string;
  readonly maxDriftMs: number;
  readonly #clock: Clock;
  readonly #lease: PhysicalTimeLease | undefined;
  /** The lowest physical time this clock may issue: above everything a previous run issued. */
  readonly #startMs: number;
  #physicalMs = -1;
  #logical = 0;

  constructor(options: HybridLogicalClockOptions) {
    const idProblem = producerIdProblem(options.producerId);
    if (idProblem !== undefined) throw new InvalidVersionError(`producerId ${idProblem}`);
    const maxDriftMs = options.maxDriftMs ?? DEFAULT_MAX_CLOCK_DRIFT_MS;
    if (!Number.isFinite(maxDriftMs) || maxDriftMs < 0) {
      throw new RangeError(`maxDriftMs must be a non-negative number of milliseconds, got ${maxDriftMs}`);
    }
    this.producerId = options.producerId;
    this.maxDriftMs = maxDriftMs;
    this.#clock = options.clock ?? systemClock;
    this.#lease = options.lease;
    const previous = options.lease?.previousBoundMs;
    this.#startMs = previous === undefined ? 0 : previous + 1;
  }

  /** The last version issued or observed, or undefined before the first. */
  get last(): Version | undefined {
    if (this.#physicalMs < 0) return undefined;
    return { physicalMs: this.#physicalMs, logical: this.#logical, producerId: this.producerId };
  }

  /** Issues a version for a local update, greater than every version issued or observed so far. */
  tick(): Version {
    // A wall clock set back across a restart is held at the previous run's bound, as one set back
    // within a run is held at the last version.
    const now = Math.max(this.#now(), this.#startMs);
    let physicalMs = this.#physicalMs;
    let logical = this.#logical;
    if (now > physicalMs) {
      physicalMs = now;
      logical = 0;
    } else if (logical < MAX_LOGICAL) {
      logical++;
    } else {
      // The counter is an Avro int. Borrowing a millisecond from the future keeps versions
      // increasing; it only happens after 2^31 updates within one held millisecond.
      physicalMs++;
      logical = 0;
    }
    // Before the state changes: a refused tick issues nothing and leaves the clock as it was.
    this.#lease?.admit(physicalMs);
    this.#physicalMs = physicalMs;
    this.#logical = logical;
    return { physicalMs, logical, producerId: this.producerId };
  }

  /**
   * Merges a version seen elsewhere (another producer's event, or the version currently stored
   * for a key), so the next {@link tick} is greater than it. Throws {@link ClockDriftError} if
   * `remote` is more than `maxDriftMs` ahead of the local clock, leaving the state unchanged.
   */
  observe(remote: Version): void {
    assertVersion(remote, 'observed version');
    const now = this.#now();
    const ahead = remote.physicalMs - now;
    if (ahead > this.maxDriftMs) {
      throw new ClockDriftError(
        `version from producer "${remote.producerId}" is ${ahead} ms ahead of this clock (limit ${this.maxDriftMs} ms); check NTP on that producer and on this host`,
        ahead,
      );
    }
    const current = { physicalMs: this.#physicalMs, logical: this.#logical, producerId: remote.producerId };
    if (compareVersions(remote, current) > 0) {
      this.#physicalMs = remote.physicalMs;
      this.#logical = remote.logical;
    }
  }

  /** {@link observe} then {@link tick}: the version for an update of a key whose current version is `seen`. */
  tickAfter(seen: Version | undefined): Version {
    if (seen !== undefined) this.observe(seen);
    return this.tick();
  }

  #now(): number {
    const now = Math.floor(this.#clock.now());
    if (!Number.isSafeInteger(now) || now < 0) {
      throw new RangeError(`clock returned ${now}; expected milliseconds since the Unix epoch`);
    }
    return now;
  }
}
