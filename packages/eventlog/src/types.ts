import type { OwnershipFence } from './ownership.js';
/** An event to append: the key decides the partition, so all events of one key stay in order. */
export interface OutgoingEvent {
  key: string;
  value: Buffer;
  headers?: Record<string, string>;
}

/** An event read from the log. Headers are decoded as UTF-8 strings. */
export interface ConsumedEvent {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** Broker timestamp in ms since the epoch. */
  timestampMs: number;
}

/** The write side of the event log. */
export interface EventSink {
  /** Appends events and resolves once the log acknowledged all of them durably (acks=all). */
  append(topic: string, events: readonly OutgoingEvent[]): Promise<void>;
  /** Whether the log answers now; for readiness checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The events of one partition handed to a consumer. Offsets become committable only through
 * {@link markDone}, which the caller must call for a contiguous prefix only.
 */
export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly events: readonly ConsumedEvent[];
  /** The partition's high watermark when the batch was fetched, for lag. */
  readonly highWatermark: string;
  /** Everything up to and including `offset` is applied or dead-lettered. */
  markDone(offset: string): void;
  /** Commits what was marked done. */
  commit(): Promise<void>;
  /** Keeps the group session alive during long work; throws if the group is rebalancing. */
  heartbeat(): Promise<void>;
  /** False once the consumer stops or this partition's position was moved (stop early then). */
  isActive(): boolean;
  /** A fence on this member's ownership of its partitions, taken now (see {@link OwnershipFence}). */
  fence(): OwnershipFence;
  /**
   * Stops fetching this partition for `ms`, after which the events not marked done are fetched
   * again. For a batch that must wait (to retry an event later): returning instead of waiting
   * inside the handler lets the member fetch its other partitions meanwhile.
   */
  pauseFor(ms: number): void;
}

export type BatchHandler = (batch: PartitionBatch) => Promise<void>;

/** The read side: a consumer group member on one topic. */
export interface EventSource {
  /** Joins the group and calls `handler` for each partition batch until closed. */
  start(handler: BatchHandler): Promise<void>;
  /** Partitions currently assigned to this member. */
  assignedPartitions(): number[];
  /** Stops fetching, lets the running handler finish, commits, leaves the group. Idempotent. */
  close(): Promise<void>;
}
