import type { z } from 'zod';
import { ConfigError } from './errors.js';
import { formatIssues } from './format-issues.js';

/**
 * Parses a service's environment with its zod schema, once at start. Problems name the
 * variable: `SHARDSYNC_PRODUCER_PORT: expected a number`. Variables set to '' count as unset.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv, service: string): z.output<S> {
  // A variable set to '' counts as unset, as the topology's overrides do: z.coerce.number() would
  // read it as 0 (SHARDSYNC_PRODUCER_PORT= would listen on a random port, without a word).
  const set = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = schema.safeParse(set);
  if (!result.success) {
    throw new ConfigError('SHARDSYNC_CONFIG_INVALID', `invalid environment for the ${service}:`, formatIssues(result.error.issues));
  }
  return result.data;
}

/**
 * The longest delay a Node timer holds (2^31-1 ms, about 24.8 days): a longer one fires after
 * 1 ms. Durations a service puts on a timer are refused above it, with this message.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
export const MAX_TIMER_MESSAGE = `must be at most ${MAX_TIMER_MS} ms (about 24.8 days), the longest delay a timer can wait`;
