import { CompressionTypes, Partitioners, type Kafka, type Producer } from 'kafkajs';
import { Batcher, type BatcherOptions } from './batcher.js';
import { classifyKafkaError } from './errors.js';
import type { EventSink, OutgoingEvent } from './types.js';

export interface KafkaEventSinkOptions {
  batching?: BatcherOptions;
  /** Per-request ack timeout in ms. Default 30000. */
  ackTimeoutMs?: number;
}

interface Item {
  topic: string;
  event: OutgoingEvent;
}

/**
 * {@link EventSink} on a kafkajs producer: idempotent, acks=all, with concurrent appends
 * coalesced into `sendBatch` calls so throughput grows with concurrency.
 */
export class KafkaEventSink implements EventSink {
  readonly #producer: Producer;
  readonly #kafka: Kafka;
  readonly #batcher: Batcher<Item, undefined>;
  readonly #ackTimeoutMs: number;
  #connected: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(kafka: Kafka, options: KafkaEventSinkOptions = {}) {
    this.#kafka = kafka;
    // Idempotence makes the broker drop duplicates of kafkajs' own retries; it requires a
    // single in-flight request, which the batcher's one-flush-at-a-time matches.
    // The default (murmur2, Java-compatible) partitioner, named so kafkajs does not warn that its
    // default changed in v2: a key's events always land in one partition.
    this.#producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
    this.#batcher = new Batcher((items) => this.#send(items), (i) => i.event.value.length + i.event.key.length + 64, options.batching);
  }

  async connect(): Promise<void> {
    this.#connected ??= this.#producer.connect().catch((err: unknown) => {
      this.#connected = undefined;
      throw classifyKafkaError(err, 'connecting the producer');
    });
    return this.#connected;
  }

  async append(topic: string, events: readonly OutgoingEvent[]): Promise<void> {
    await Promise.all(events.map((event) => this.#batcher.submit({ topic, event })));
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

  async #send(items: Item[]): Promise<undefined[]> {
    await this.connect();
    const byTopic = new Map<string, Item[]>();
    for (const item of items) {
      const list = byTopic.get(item.topic) ?? [];
      list.push(item);
      byTopic.set(item.topic, list);
    }
    try {
      await this.#producer.sendBatch({
        acks: -1,
        timeout: this.#ackTimeoutMs,
        compression: CompressionTypes.None,
        topicMessages: [...byTopic].map(([topic, list]) => ({
          topic,
          messages: list.map(({ event }) => ({ key: event.key, value: event.value, headers: event.headers ?? {} })),
        })),
      });
    } catch (err) {
      throw classifyKafkaError(err, 'appending events');
    }
    return items.map(() => undefined);
  }
}
