import type { MembershipChange } from '@shardsync/eventlog';

export type MembershipState =
  | { kind: 'joining' }
  | { kind: 'joined'; memberId: string }
  | { kind: 'crashed'; error: string; restart: boolean }
  | { kind: 'stopped' };

/**
 * Whether this instance is a working member of its consumer group, for `/readyz`: not before the
 * Kafka consumer joined the group, and not after it crashed or stopped until it joins again
 * (kafkajs restarts after a retriable crash).
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

  /** Follows the membership changes `KafkaEventSource` reports (its `onMembershipChange`). */
  observe(change: MembershipChange): void {
    switch (change.kind) {
      case 'joined':
        return this.joined(change.memberId);
      case 'crashed':
        return this.crashed(change.error, change.restart);
      case 'stopped':
        return this.stopped();
    }
  }
}
