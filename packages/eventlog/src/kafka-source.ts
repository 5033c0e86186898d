import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import { classifyKafkaError } from './errors.js';
import { SessionOwnership } from './ownership.js';
import { PartitionResumes } from './partition-resumes.js';
import type { BatchHandler, ConsumedEvent, EventSource, PartitionBatch } from './types.js';

/**
 * A change in a source's membership of its consumer group:
 * - `joined`: it joined (again, after every rebalance or restart) as `memberId`;
 * - `crashed`: its consumer failed; `restart` says whether kafkajs starts it again (it then
 *   joins again) or gave up for good;
 * - `stopped`: its consumer stopped or disconnected (also on `close()`, and before a crash is
 *   reported); it may be reported more than once.
 */
export type MembershipChange = { kind: 'joined'; memberId: string } | { kind: 'crashed'; error: Error; restart: boolean } | { kind: 'stopped' };

export interface KafkaEventSourceOptions {
  groupId: string;
  topic: string;
  /** Where a group with no committed offset starts. Default true: a new datacenter replays what the topic retains. */
  fromBeginning?: boolean;
  /** Group session timeout in ms. Default 30000. */
  sessionTimeoutMs?: number;
  /** Heartbeat interval in ms. Default 3000. */
  heartbeatIntervalMs?: number;
  /** Bytes fetched per partition per request. Default 1 MiB (events are small: bodies are staged). */
  maxBytesPerPartition?: number;
  /** Partitions whose batches are handled at the same time. Default 16. */
  partitionsConsumedConcurrently?: number;
  /** Called once when kafkajs gives up for good (its crash event without restart). */
  onFatal?: (err: Error) => void;
  /** Called after every group join with the partitions now assigned to this member. */
  onAssignment?: (partitions: number[]) => void;
  /** Called on every change of this member's membership of its group, e.g. for a readiness check. */
  onMembershipChange?: (change: MembershipChange) => void;
}

export function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    // A header may have no value (other clients write one; kafkajs reads it as null, whatever its
    // typings say): it is left out, as a null among strings would break whatever reads or
    // re-sends the headers (a dead letter of the record could never be appended).
    const values: ReadonlyArray<Buffer | string | null | undefined> = Array.isArray(value) ? value : [value];
    const first = values.find((v) => v !== null && v !== undefined);
    if (first !== undefined && first !== null) out[name] = Buffer.isBuffer(first) ? first.toString('utf8') : first;
  }
  return out;
}

/** One record of a kafkajs batch as the rest of shardsync sees it. */
export function toConsumedEvent(topic: string, partition: number, m: KafkaMessage): ConsumedEvent {
  return { topic, partition, offset: m.offset, key: m.key, value: m.value, headers: decodeHeaders(m.headers), timestampMs: Number(m.timestamp) };
}

function toPartitionBatch(payload: EachBatchPayload, ownership: SessionOwnership, later: (ms: number, fn: () => void) => void): PartitionBatch {
  const { batch } = payload;
  const events: ConsumedEvent[] = batch.messages.map((m) => toConsumedEvent(batch.topic, batch.partition, m));
  return {
    topic: batch.topic,
    partition: batch.partition,
    events,
    highWatermark: batch.highWatermark,
    markDone: (offset) => payload.resolveOffset(offset),
    commit: () => payload.commitOffsetsIfNecessary(payload.uncommittedOffsets()),
    heartbeat: () => payload.heartbeat(),
    isActive: () => payload.isRunning() && !payload.isStale(),
    fence: () => ownership.fence(),
    // kafkajs fetches a broker's partitions again only once every batch of its last fetch was
    // handled: a handler waiting inside its batch holds the member's other partitions too.
    pauseFor: (ms) => later(ms, payload.pause()),
  };
}

/**
 * {@link EventSource} on a kafkajs consumer group member. Offsets are resolved only by the
 * handler (no auto-resolve), so a crash re-delivers everything not finished; the handler's
 * apply is idempotent, which makes that harmless.
 */
export class KafkaEventSource implements EventSource {
  readonly #consumer: Consumer;
  readonly #options: KafkaEventSourceOptions;
  readonly #ownership: SessionOwnership;
  #assigned: number[] = [];
  #closing: Promise<void> | undefined;
  /** Resumes of paused partitions still to come. */
  readonly #resumes = new PartitionResumes();

  constructor(kafka: Kafka, options: KafkaEventSourceOptions) {
    this.#options = options;
    const sessionTimeout = options.sessionTimeoutMs ?? 30_000;
    this.#ownership = new SessionOwnership(sessionTimeout);
    this.#consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout,
      heartbeatInterval: options.heartbeatIntervalMs ?? 3000,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1024 * 1024,
      allowAutoTopicCreation: false,
    });
    const { GROUP_JOIN, HEARTBEAT, CRASH, STOP, DISCONNECT } = this.#consumer.events;
    this.#consumer.on(HEARTBEAT, () => this.#ownership.confirmed());
    this.#consumer.on(GROUP_JOIN, (e) => {
      this.#ownership.joined();
      this.#resumes.resumeAll();
      this.#assigned = [...(e.payload.memberAssignment[options.topic] ?? [])].sort((a, b) => a - b);
      options.onMembershipChange?.({ kind: 'joined', memberId: e.payload.memberId });
      options.onAssignment?.(this.assignedPartitions());
    });
    this.#consumer.on(CRASH, (e) => {
      this.#ownership.lost();
      this.#assigned = [];
      options.onMembershipChange?.({ kind: 'crashed', error: e.payload.error, restart: e.payload.restart });
      if (!e.payload.restart) options.onFatal?.(e.payload.error);
    });
    const stopped = () => {
      this.#ownership.lost();
      // Out of the group (kafkajs left it), maybe for a while: a restart's join can wait on the
      // other members. Its old partitions are another member's meanwhile, not to be reported here.
      this.#assigned = [];
      options.onMembershipChange?.({ kind: 'stopped' });
    };
    this.#consumer.on(STOP, stopped);
    this.#consumer.on(DISCONNECT, stopped);
  }

  async start(handler: BatchHandler): Promise<void> {
    try {
      await this.#consumer.connect();
      await this.#consumer.subscribe({ topics: [this.#options.topic], fromBeginning: this.#options.fromBeginning ?? true });
      await this.#consumer.run({
        autoCommit: true,
        // Resolved offsets are also committed on this interval and when partitions are revoked,
        // so a rebalance hands the next owner the finished prefix.
        autoCommitInterval: 5000,
        autoCommitThreshold: null,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.#options.partitionsConsumedConcurrently ?? 16,
        eachBatch: (payload) => handler(toPartitionBatch(payload, this.#ownership, (ms, resume) => this.#resumes.after(ms, resume))),
      });
    } catch (err) {
      throw classifyKafkaError(err, `starting consumer group ${this.#options.groupId}`);
    }
  }

  assignedPartitions(): number[] {
    return [...this.#assigned];
  }

  close(): Promise<void> {
    this.#resumes.close();
    this.#closing ??= this.#consumer.disconnect().catch(() => undefined);
    return this.#closing;
  }
}
