/**
 * Process exit codes of every `shardsync` command, so scripts and runbooks can branch on them.
 * - `ok` (0): the command did its job and found nothing wrong.
 * - `divergence` (1): the command worked, and what it checked is not right: datacenters disagree,
 *   divergence remains after a pass, or `status` found a problem.
 * - `error` (2): the command could not do its job (bad arguments, unreachable servers, ...);
 *   the message says what was wrong.
 * - `notFound` (3): the command worked, but a key it was asked about is in no datacenter, neither
 *   as an object nor as a tombstone: most likely a typo, which must not pass for "the datacenters
 *   agree" (a key deleted everywhere has tombstones, and is a state they agree on: 0).
 */
export const ExitCode = {
  ok: 0,
  divergence: 1,
  error: 2,
  notFound: 3,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
