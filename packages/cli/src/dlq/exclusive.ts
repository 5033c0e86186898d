import type { KafkaAdmin } from '../context.js';
import { CliError } from '../errors.js';
import { describeGroups } from '../kafka/offsets.js';

/**
 * Refuses to start while another `dlq replay` or `dlq discard` holds the group that records what
 * was handled: both commit that group's progress, and two writers would overwrite each other's.
 */
export async function ensureNoOtherRun(admin: KafkaAdmin, groupId: string): Promise<void> {
  const group = (await describeGroups(admin, [groupId])).get(groupId);
  if (group !== undefined && group.members > 0) {
    throw new CliError('SHARDSYNC_CLI_CONFLICT', `another dlq replay or discard is running: consumer group ${groupId} has ${group.members} member(s)`, {
      retriable: true,
      hint: 'wait for it to finish, then run the command again',
    });
  }
}
