import type { Admin, Kafka } from 'kafkajs';
import { classifyKafkaError } from './errors.js';

export interface PartitionLag {
  partition: number;
  /** The group's committed offset, or the low watermark when it has none (it may lie below the low watermark: retention removed what it never read). */
  committed: string;
  /** The partition's high watermark: the offset the next event will get. */
  high: string;
  /** Where the group reads next: the later of its committed offset and the low watermark (what retention left). */
  next: string;
  /** Retained events the group has not read yet: from `next` to `high`. */
  lag: number;
}

/**
 * kafkajs' `ConfigResourceTypes.TOPIC`. Spelled out: Node's ESM loader cannot see that name among
 * the CommonJS module's exports (a named import of it fails at run time, unlike under vitest).
 */
const TOPIC_RESOURCE = 2;

/** Topic management and lag, for setup scripts, the CLI and consumer metrics. */
export class EventLogAdmin {
  readonly #admin: Admin;
  #connected: Promise<void> | undefined;

  constructor(kafka: Kafka) {
    this.#admin = kafka.admin();
  }

  async #connect(): Promise<Admin> {
    this.#connected ??= this.#admin.connect().catch((err: unknown) => {
      this.#connected = undefined;
      throw classifyKafkaError(err, 'connecting the Kafka admin client');
    });
    await this.#connected;
    return this.#admin;
  }

  /** Creates the topics that do not exist yet; existing topics are left as they are. */
  async ensureTopics(topics: Array<{ topic: string; partitions: number; replicationFactor: number; retentionMs?: number }>): Promise<void> {
    const admin = await this.#connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t.topic));
      if (missing.length === 0) return;
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.topic,
          numPartitions: t.partitions,
          replicationFactor: t.replicationFactor,
          configEntries: t.retentionMs === undefined ? [] : [{ name: 'retention.ms', value: String(t.retentionMs) }],
        })),
      });
    } catch (err) {
      throw classifyKafkaError(err, `creating topics ${topics.map((t) => t.topic).join(', ')}`);
    }
  }

  /** The topic's `retention.ms` as the broker applies it (`Infinity` for -1: kept forever). */
  async retentionMs(topic: string): Promise<number> {
    const admin = await this.#connect();
    try {
      const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: TOPIC_RESOURCE, name: topic, configNames: ['retention.ms'] }] });
      const value = Number(resources[0]?.configEntries.find((e) => e.configName === 'retention.ms')?.configValue);
      if (!Number.isFinite(value)) throw new Error(`the broker gave no retention.ms for topic ${topic}`);
      return value < 0 ? Infinity : value;
    } catch (err) {
      throw classifyKafkaError(err, `reading the retention of topic ${topic}`);
    }
  }

  /** Per-partition lag of a consumer group on a topic. */
  async groupLag(groupId: string, topic: string): Promise<PartitionLag[]> {
    const admin = await this.#connect();
    try {
      const [watermarks, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
      const committedByPartition = new Map<number, string>();
      for (const t of committed) for (const p of t.partitions) committedByPartition.set(p.partition, p.offset);
      return watermarks
        .map((w) => {
          const c = committedByPartition.get(w.partition);
          // Negative offsets are "none yet" (-1) or a reset marker (-2 earliest): the group starts at the low watermark.
          const start = c === undefined || c.startsWith('-') ? w.low : c;
          // A group behind retention resumes at the oldest retained event: the events retention
          // removed will never be applied, so they are not lag (they were counted, and the
          // consumer's lag metric and watchdog saw events waiting that no consumer would get).
          const next = BigInt(start) < BigInt(w.low) ? BigInt(w.low) : BigInt(start);
          return { partition: w.partition, committed: start, high: w.high, next: next.toString(), lag: Math.max(0, Number(BigInt(w.high) - next)) };
        })
        .sort((a, b) => a.partition - b.partition);
    } catch (err) {
      throw classifyKafkaError(err, `reading the lag of group ${groupId}`);
    }
  }

  /** Events currently retained in a topic (sum over partitions of high minus low). */
  async depth(topic: string): Promise<number> {
    const admin = await this.#connect();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.reduce((sum, p) => sum + Number(BigInt(p.high) - BigInt(p.low)), 0);
    } catch (err) {
      throw classifyKafkaError(err, `reading the depth of ${topic}`);
    }
  }

  async close(): Promise<void> {
    await this.#admin.disconnect().catch(() => undefined);
  }
}
