import { systemClock, type Clock, type PhysicalTimeLease } from '@shardsync/events';
import type { Logger } from '@shardsync/runtime';
import { ClockLeaseError } from '../errors.js';
import type { LeaseStore } from './lease-store.js';

/** Default {@link ClockLeaseOptions.windowMs}: 10 s. */
export const DEFAULT_CLOCK_LEASE_WINDOW_MS = 10_000;
/** Default {@link ClockLeaseOptions.retryDelayMs}: 1 s. */
export const DEFAULT_CLOCK_LEASE_RETRY_MS = 1_000;

/** What a producer passes to {@link ClockLease.acquire}. */
export interface ClockLeaseOptions {
  /** Where the bound is persisted. */
  readonly store: LeaseStore;
  readonly logger: Logger;
  /** The wall clock the producer's HLC reads. Default {@link systemClock}. */
  readonly clock?: Clock | undefined;
  /**
   * How far ahead of the wall clock each persisted bound lies; it is renewed once less than half
   * of it is left. Default {@link DEFAULT_CLOCK_LEASE_WINDOW_MS}.
   */
  readonly windowMs?: number | undefined;
  /** The wait before persisting the bound again after a write failed. Default {@link DEFAULT_CLOCK_LEASE_RETRY_MS}. */
  readonly retryDelayMs?: number | undefined;
}

/**
 * A producer's clock lease, the way timestamp oracles keep timestamps increasing across restarts.
 *
 * The clock never issues a physical time above a bound that is already persisted ({@link admit}).
 * The bound is moved `windowMs` ahead of the wall clock in the background once less than half of
 * the window is left, so ticks normally never wait for it. A restarted producer of the same id
 * starts its clock above the bound its previous run persisted ({@link previousBoundMs}), so every
 * version it issues is above every version issued before the restart, even when its wall clock
 * was set back (an NTP step, a VM migration). That needs one running process per producer id at
 * a time: a second one takes the lease over (see `ObjectLeaseStore`), and the first stops
 * admitting versions at its next write, every one of them below the second's.
 *
 * When the bound cannot be persisted, versions are still issued up to the bound persisted last,
 * then refused with a retriable {@link ClockLeaseError}: a version above it could be issued again
 * by the next run. Readiness reports the failure from the first failed write on.
 */
export class ClockLease implements PhysicalTimeLease {
  readonly previousBoundMs: number | undefined;
  readonly #store: LeaseStore;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #windowMs: number;
  readonly #retryDelayMs: number;
  /** The highest bound known to be persisted: no physical time above it is admitted. */
  #boundMs: number;
  /** The highest physical time a tick asked for near or past the bound. */
  #wantedMs = 0;
  #writing: Promise<void> | undefined;
  /** Why the last write failed; undefined once one succeeds. */
  #failure: unknown;
  /** Another process of this producer id took the lease over: no version is admitted any more. */
  #lost: ClockLeaseError | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(options: ClockLeaseOptions, previousBoundMs: number | undefined, boundMs: number) {
    this.#store = options.store;
    this.#logger = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#windowMs = options.windowMs ?? DEFAULT_CLOCK_LEASE_WINDOW_MS;
    this.#retryDelayMs = options.retryDelayMs ?? DEFAULT_CLOCK_LEASE_RETRY_MS;
    this.previousBoundMs = previousBoundMs;
    this.#boundMs = boundMs;
  }

  /**
   * Reads the bound the previous run of this producer id persisted and persists a first bound above
   * it, before any version is issued. Rejects with the store's error (whose `retriable` flag says
   * whether trying again can help) or a {@link ClockLeaseError} for an unreadable lease.
   */
  static async acquire(options: ClockLeaseOptions): Promise<ClockLease> {
    const windowMs = options.windowMs ?? DEFAULT_CLOCK_LEASE_WINDOW_MS;
    if (!Number.isSafeInteger(windowMs) || windowMs < 2) throw new RangeError(`windowMs must be an integer of at least 2 ms, got ${windowMs}`);
    const previous = await options.store.read();
    const now = Math.floor((options.clock ?? systemClock).now());
    // The clock's first version may be at `previous + 1` already, whatever the wall clock says.
    const first = Math.max(now, previous === undefined ? 0 : previous + 1) + windowMs;
    await options.store.write(first);
    const lease = new ClockLease(options, previous, first);
    lease.#schedule();
    return lease;
  }

  /** The bound persisted last: no version issued so far has a later physical time. */
  get boundMs(): number {
    return this.#boundMs;
  }

  admit(physicalMs: number): void {
    // The hot path: one comparison per tick (a lost lease leaves no bound to issue under).
    if (this.#boundMs - physicalMs >= this.#windowMs / 2 && this.#lost === undefined) return;
    if (this.#lost !== undefined) throw this.#lost;
    // Close to the bound (the timer is late, or the wall clock jumped ahead) or past it: renew so
    // that it covers this time too.
    if (physicalMs > this.#wantedMs) this.#wantedMs = physicalMs;
    if (this.#failure === undefined) this.#renew();
    if (physicalMs > this.#boundMs) throw this.#refusal();
  }

  /** Resolves once the write under way, if any, has succeeded or failed. Never rejects. */
  whenRenewed(): Promise<void> {
    return this.#writing ?? Promise.resolve();
  }

  /** For readiness: rejects with why the bound cannot be persisted while the last attempt failed. */
  async check(): Promise<void> {
    if (this.#lost !== undefined) throw this.#lost;
    if (this.#failure !== undefined) throw this.#refusal();
  }

  /** Stops renewing and waits for a write under way. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#writing;
  }

  #renew(): void {
    if (this.#writing !== undefined || this.#closed || this.#lost !== undefined) return;
    clearTimeout(this.#timer);
    this.#writing = this.#writeUntilCovered().finally(() => {
      this.#writing = undefined;
      this.#schedule();
    });
  }

  async #writeUntilCovered(): Promise<void> {
    // Ticks may ask for more while a write is under way: write again until the bound covers them.
    do {
      const target = Math.max(Math.floor(this.#clock.now()), this.#wantedMs) + this.#windowMs;
      // The wall clock was set back: the bound persisted is still far enough ahead.
      if (target <= this.#boundMs) return;
      try {
        await this.#store.write(target);
      } catch (err) {
        if (err instanceof ClockLeaseError && err.code === 'SHARDSYNC_CLOCK_LEASE_LOST') {
          // Its versions are above this bound (it started above it), so none issued so far can
          // equal one of this process's; from now on only it may issue versions under this id.
          this.#lost = err;
          this.#logger.error({ err, lease: this.#store.location }, 'lost the clock lease to another process of the same producer id; refusing every update from now on');
          return;
        }
        if (this.#failure === undefined) {
          this.#logger.error({ err, lease: this.#store.location, boundMs: this.#boundMs }, 'cannot persist the clock lease; versions are refused once the persisted bound is reached');
        }
        this.#failure = err;
        return;
      }
      if (this.#failure !== undefined) this.#logger.info({ lease: this.#store.location }, 'the clock lease is persisted again');
      this.#boundMs = target;
      this.#failure = undefined;
    } while (this.#wantedMs > this.#boundMs && !this.#closed);
  }

  #schedule(): void {
    if (this.#closed || this.#lost !== undefined) return;
    clearTimeout(this.#timer);
    // Capped: a bound far ahead of a wall clock set back is looked at again every half window
    // rather than after a delay setTimeout cannot hold.
    const renewInMs = Math.min(this.#boundMs - this.#windowMs / 2 - this.#clock.now(), this.#windowMs / 2);
    const delayMs = this.#failure === undefined ? Math.max(0, renewInMs) : this.#retryDelayMs;
    this.#timer = setTimeout(() => this.#renew(), delayMs);
    this.#timer.unref();
  }

  #refusal(): ClockLeaseError {
    const bound = new Date(this.#boundMs).toISOString();
    if (this.#failure === undefined) {
      return new ClockLeaseError('SHARDSYNC_CLOCK_LEASE_UNAVAILABLE', `the clock reached its lease (${bound}, ${this.#store.location}) and is renewing it; try again`);
    }
    const reason = this.#failure instanceof Error ? this.#failure.message : JSON.stringify(this.#failure);
    return new ClockLeaseError(
      'SHARDSYNC_CLOCK_LEASE_UNAVAILABLE',
      `this producer cannot persist its clock lease at ${this.#store.location} (${reason}), so it issues no version after ${bound}: one above the persisted bound could be issued again after a restart. It retries every ${this.#retryDelayMs} ms; check the origin datacenter's object store`,
      { cause: this.#failure },
    );
  }
}
