import type { Operation, ShardUpdate } from './types.js';
import { compareVersions, type Version } from './version.js';

/** Whether a state is a live object or a tombstone. */
export type UpdateKind = 'put' | 'delete';

/** The part of an object's state (or of an update) that decides conflicts. */
export interface VersionedState {
  readonly version: Version;
  readonly kind: UpdateKind;
}

/** What to do with an incoming update. */
export type ApplyDecision = 'apply' | 'skip';

/** Maps an event's Avro operation to the kind used by the conflict rule. */
export function kindOf(operation: Operation): UpdateKind {
  return operation === 'DELETE' ? 'delete' : 'put';
}

/** The conflict-relevant state an update would leave behind. */
export function stateOf(update: Pick<ShardUpdate, 'version' | 'operation'>): VersionedState {
  return { version: update.version, kind: kindOf(update.operation) };
}

/**
 * THE conflict rule, shared by the consumer and the reconciler: the highest version wins,
 * tombstones included.
 *
 * - No current state: apply, even for a delete, because the tombstone must be recorded so that a
 *   late, older put of the same key is refused.
 * - Incoming version higher: apply, whatever either kind is.
 * - Equal version: skip. Versions are unique per update (HLC + producer id), so this is a
 *   redelivery, and skipping makes applying idempotent.
 * - Lower version: skip; a newer state has already won.
 *
 * Because it is a comparison against a total order, applying any set of updates in any order,
 * with any duplicates, ends in the same state: the maximum.
 */
export function decideApply(incoming: VersionedState, current: VersionedState | undefined): ApplyDecision {
  if (current === undefined) return 'apply';
  return compareVersions(incoming.version, current.version) > 0 ? 'apply' : 'skip';
}

/**
 * The state every datacenter should converge to, for the reconciler: the one with the highest
 * version (a tombstone if a delete is newest). Returns undefined for an empty list. Extra
 * fields (e.g. which datacenter holds it) are kept. On equal versions the first is returned;
 * equal versions name the same update, so which copy is irrelevant to the outcome.
 */
export function pickWinner<T extends VersionedState>(states: readonly T[]): T | undefined {
  let winner: T | undefined;
  for (const state of states) {
    if (decideApply(state, winner) === 'apply') winner = state;
  }
  return winner;
}
