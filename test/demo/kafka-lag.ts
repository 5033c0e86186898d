import { Kafka, logLevel, type Admin } from 'kafkajs';

/**
 * Consumer lag as Kafka sees it: for each group, the sum over partitions of the high watermark
 * minus the group's committed offset. The consumers' own `shardsync_consumer_offset_lag_events`
 * gauge is taken at the fetch of the batch just applied, so it reads 0 while a consumer is far
 * behind; this is the number an operator would look at.
 */
export class GroupLag {
  readonly #admin: Admin;
  readonly #topic: string;
  #connected: Promise<void> | undefined;

  constructor(brokers: readonly string[], topic: string) {
    this.#admin = new Kafka({ brokers: [...brokers], clientId: 'shardsync-demo-lag', logLevel: logLevel.NOTHING }).admin();
    this.#topic = topic;
  }

  /** Events not yet committed, per group id; undefined for a group Kafka does not answer about. */
  async lagOf(groupIds: readonly string[]): Promise<Map<string, number | undefined>> {
    this.#connected ??= this.#admin.connect();
    await this.#connected;
    const high = await this.#admin.fetchTopicOffsets(this.#topic);
    const out = new Map<string, number | undefined>();
    await Promise.all(
      groupIds.map(async (groupId) => {
        try {
          const [committed] = await this.#admin.fetchOffsets({ groupId, topics: [this.#topic] });
          const byPartition = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
          let lag = 0;
          for (const p of high) {
            const c = byPartition.get(p.partition) ?? -1;
            lag += Number(p.high) - (c < 0 ? Number(p.low) : c);
          }
          out.set(groupId, lag);
        } catch {
          out.set(groupId, undefined);
        }
      }),
    );
    return out;
  }

  async close(): Promise<void> {
    if (this.#connected !== undefined) await this.#admin.disconnect();
  }
}
