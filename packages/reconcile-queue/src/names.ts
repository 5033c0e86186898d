/** The one queue every reconciler instance shares: passes, their key ranges and key repairs. */
export const QUEUE_NAME = 'reconcile';

/** Job names on {@link QUEUE_NAME}. */
export const JOB = { pass: 'pass', range: 'range', repair: 'repair', stagingGc: 'staging-gc' } as const;
