import type { z } from 'zod';
import { ConfigError } from './errors.js';
import { formatIssues } from './format-issues.js';

/**
 * Parses a service's environment with its zod schema, once at start. Problems name the
 * variable: `SHARDSYNC_PRODUCER_PORT: expected a number`.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv, service: string): z.output<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError('SHARDSYNC_CONFIG_INVALID', `invalid environment for the ${service}:`, formatIssues(result.error.issues));
  }
  return result.data;
}
