import { CompressionTypes, Partitioners, type Kafka, type Producer } from 'kafkajs';
import { Batcher, type BatcherOptions } from './batcher.js';
import { appendWasUnsent, classifyKafkaError, EventLogError } from './errors.js';
import type { EventSink, OutgoingEvent } from './types.js';

export interface KafkaEventSinkOptions {
  batching?: BatcherOptions;
  /** Per-request ack timeout in ms. Default 30000. */
  ackTimeoutMs?: number;
}

/**
 * Most bytes one flush carries. Kafka refuses a partition's record batch over the broker's
 * `message.max.bytes` (default 1 MiB) with MESSAGE_TOO_LARGE, and a flush may put every event
 * into one partition (one hot key), so the whole flush stays under it with room for the record
 * overhead. One event always goes out, whatever its size.
 */
export const DEFAULT_FLUSH_MAX_BYTES = 900 * 1024;

interface Item {
  topic: string;
  event: OutgoingEvent;
}

/** What became of one item of a flush: undefined when Kafka acknowledged it, else why it failed. */
type SendResult = EventLogError | undefined;

/**
 * {@link EventSink} on a kafkajs producer: idempotent, acks=all, with concurrent appends
 * coalesced into `sendBatch` calls so throughput grows with concurrency.
 */
export class KafkaEventSink implements EventSink {
  #producer: Producer;
  readonly #kafka: Kafka;
  readonly #batcher: Batcher<Item, SendResult>;
  readonly #ackTimeoutMs: number;
  #connected: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(kafka: Kafka, options: KafkaEventSinkOptions = {}) {
    this.#kafka = kafka;
    // Idempotence makes the broker drop duplicates of kafkajs' own retries; it requires a
    // single in-flight request, which the batcher's one-flush-at-a-time matches.
    // The default (murmur2, Java-compatible) partitioner, named so kafkajs does not warn that its
    // default changed in v2: a key's events always land in one partition.
    this.#producer = KafkaEventSink.#newProducer(kafka);
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
    this.#batcher = new Batcher((items) => this.#send(items), sizeOf, { maxBytes: DEFAULT_FLUSH_MAX_BYTES, ...options.batching });
  }

  static #newProducer(kafka: Kafka): Producer {
    return kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  }

  async connect(): Promise<void> {
    this.#connected ??= this.#producer.connect().catch((err: unknown) => {
      this.#connected = undefined;
      throw classifyKafkaError(err, 'connecting the producer');
    });
    return this.#connected;
  }

  async append(topic: string, events: readonly OutgoingEvent[]): Promise<void> {
    // Every event settled before answering: the events of one append may go in several flushes,
    // and a failure is "not sent" (appendWasUnsent) only if none of them can have been written.
    const outcomes = await Promise.allSettled(events.map((event) => this.#submit({ topic, event })));
    const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failure === undefined) return;
    const err: unknown = failure.reason;
    if (err instanceof EventLogError && err.unsent && !outcomes.every((o) => o.status === 'rejected' && appendWasUnsent(o.reason))) {
      throw new EventLogError(err.code, `${err.message} (other events of this append may have been appended)`, { retriable: err.retriable, cause: err.cause });
    }
    throw err;
  }

  async ping(): Promise<void> {
    const admin = this.#kafka.admin();
    try {
      await admin.connect();
      await admin.describeCluster();
    } catch (err) {
      throw classifyKafkaError(err, 'checking Kafka');
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#batcher.close().catch(() => undefined);
      await this.#producer.disconnect().catch(() => undefined);
    })();
    return this.#closing;
  }

  async #submit(item: Item): Promise<void> {
    const failure = await this.#batcher.submit(item);
    if (failure !== undefined) throw failure;
  }

  /**
   * Sends each topic of a flush in a request of its own, so that one topic's failure is only
   * its own events'. In one `sendBatch` it would be everyone's: a topic missing from kafkajs'
   * metadata fails the whole call before anything is sent, and a topic deleted after kafkajs
   * cached its metadata is refused by the broker in the same request in which it appends the
   * other topics' records, while kafkajs reports the whole request as failed. A flush holds one
   * topic nearly always (each service appends to one), so this costs no round trip in practice.
   */
  async #send(items: Item[]): Promise<SendResult[]> {
    const results: SendResult[] = [];
    for (const [topic, indexes] of indexesByTopic(items)) {
      const failure = await this.#sendTopic(topic, indexes.map((i) => (items[i] as Item).event));
      for (const i of indexes) results[i] = failure;
    }
    return results;
  }

  async #sendTopic(topic: string, events: readonly OutgoingEvent[]): Promise<SendResult> {
    try {
      await this.connect();
    } catch (err) {
      // Connecting (and fetching a producer id) sends no record.
      return unsent(classifyKafkaError(err, 'connecting the producer'));
    }
    try {
      await this.#producer.sendBatch({
        acks: -1,
        timeout: this.#ackTimeoutMs,
        compression: CompressionTypes.None,
        topicMessages: [{ topic, messages: events.map((event) => ({ key: event.key, value: event.value, headers: event.headers ?? {} })) }],
      });
      return undefined;
    } catch (err) {
      await this.#renewProducer();
      const e = classifyKafkaError(err, 'appending events');
      // A missing topic is refused before anything is appended to it, and the request carried
      // no other topic; other failures may come after the broker appended the records.
      return e.code === 'SHARDSYNC_EVENTLOG_TOPIC_MISSING' ? unsent(e) : e;
    }
  }

  /**
   * After a failed send the idempotent producer's sequence numbers cannot be trusted: kafkajs
   * rolls back the numbers of every partition of the request, also those the broker had already
   * appended, so the next send there would reuse them and the broker would either acknowledge it
   * as a duplicate without writing it or refuse every later send (OUT_OF_ORDER_SEQUENCE_NUMBER).
   * A new producer gets a new producer id and starts its sequences afresh. Flushes never overlap,
   * so nothing else is using the old one.
   */
  async #renewProducer(): Promise<void> {
    const old = this.#producer;
    this.#producer = KafkaEventSink.#newProducer(this.#kafka);
    this.#connected = undefined;
    await old.disconnect().catch(() => undefined);
  }
}

/** The positions of a flush's items, by topic, in order. */
function indexesByTopic(items: readonly Item[]): Map<string, number[]> {
  const byTopic = new Map<string, number[]>();
  items.forEach((item, i) => {
    const list = byTopic.get(item.topic) ?? [];
    list.push(i);
    byTopic.set(item.topic, list);
  });
  return byTopic;
}

function sizeOf(item: Item): number {
  let headerBytes = 0;
  for (const [name, value] of Object.entries(item.event.headers ?? {})) headerBytes += name.length + Buffer.byteLength(value);
  // Plus the record's own framing (lengths, offsets, timestamps): tens of bytes.
  return item.event.value.length + Buffer.byteLength(item.event.key) + headerBytes + 64;
}

/** The same failure, marked as one before which nothing was sent. */
function unsent(e: EventLogError): EventLogError {
  return new EventLogError(e.code, e.message, { retriable: e.retriable, cause: e.cause, unsent: true });
}
