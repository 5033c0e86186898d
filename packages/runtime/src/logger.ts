import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines on stdout, one logger per service, with the service and datacenter on every
 * line so the logs of several processes can be merged. Level from `SHARDSYNC_LOG_LEVEL`.
 */
export function createLogger(service: string, fields: Record<string, string> = {}, level = process.env['SHARDSYNC_LOG_LEVEL'] ?? 'info'): Logger {
  return pino({ level, base: { service, ...fields } });
}
