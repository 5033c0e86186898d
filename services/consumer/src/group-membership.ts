import type { createKafkaClient } from '@shardsync/eventlog';

type KafkaClient = ReturnType<typeof createKafkaClient>;
type KafkaConsumer = ReturnType<KafkaClient['consumer']>;

export type MembershipState =
  | { kind: 'joining' }
  | { kind: 'joined'; memberId: string }
  | { kind: 'crashed'; error: string; restart: boolean }
  | { kind: 'stopped' };

/**
 * Whether this instance is a working member of its consumer group, for `/readyz`: not before the
 * kafkajs consumer joined the group (its GROUP_JOIN event), and not after it crashed or stopped
 * until it joins again (kafkajs restarts after a retriable crash).
 */
export class GroupMembership {
  readonly groupId: string;
  #state: MembershipState = { kind: 'joining' };

  constructor(groupId: string) {
    this.groupId = groupId;
  }

  get state(): MembershipState {
    return this.#state;
  }

  joined(memberId: string): void {
    this.#state = { kind: 'joined', memberId };
  }

  crashed(error: unknown, restart: boolean): void {
    this.#state = { kind: 'crashed', error: error instanceof Error ? error.message : String(error), restart };
  }

  stopped(): void {
    // kafkajs stops the consumer while handling a crash: the crash is the better reason.
    if (this.#state.kind !== 'crashed') this.#state = { kind: 'stopped' };
  }

  /** The readiness check: resolves while joined, otherwise rejects saying why not. */
  async check(): Promise<void> {
    const s = this.#state;
    switch (s.kind) {
      case 'joined':
        return;
      case 'joining':
        throw new Error(`has not joined consumer group ${this.groupId} yet`);
      case 'crashed':
        throw new Error(`the Kafka consumer of group ${this.groupId} crashed (${s.error}); ${s.restart ? 'it is restarting and will join again' : 'it will not restart'}`);
      case 'stopped':
        throw new Error(`the Kafka consumer of group ${this.groupId} is stopped`);
    }
  }

  /** Follows the events of a kafkajs consumer. */
  follow(consumer: KafkaConsumer): void {
    const { GROUP_JOIN, CRASH, STOP, DISCONNECT } = consumer.events;
    consumer.on(GROUP_JOIN, (e) => this.joined(e.payload.memberId));
    consumer.on(CRASH, (e) => this.crashed(e.payload.error, e.payload.restart));
    consumer.on(STOP, () => this.stopped());
    consumer.on(DISCONNECT, () => this.stopped());
  }
}

/**
 * The Kafka client with every consumer it creates followed by `membership`. `KafkaEventSource`
 * keeps its kafkajs consumer to itself and reports only joins and crashes it will not restart
 * from, while readiness needs restartable crashes and stops too: so the consumer is followed
 * where it is created.
 */
export function followingConsumers(kafka: KafkaClient, membership: GroupMembership): KafkaClient {
  return {
    producer: (config) => kafka.producer(config),
    consumer: (config) => {
      const consumer = kafka.consumer(config);
      membership.follow(consumer);
      return consumer;
    },
    admin: (config) => kafka.admin(config),
    logger: () => kafka.logger(),
  };
}
