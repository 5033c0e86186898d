import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines on stdout, one logger per service, with the service and datacenter on every
 * line so the logs of several processes can be merged. Level from `SHARDSYNC_LOG_LEVEL`.
 */
export function createLogger(service: string, fields: Record<string, string> = {}, level = process.env['SHARDSYNC_LOG_LEVEL'] ?? 'info'): Logger {
  return pino({ level, base: { service, ...fields } });
}

/** Routes a library's leveled log lines (e.g. kafkajs through @shardsync/eventlog) into a service logger. */
export function logTo(logger: Logger, component: string): (level: 'error' | 'warn' | 'info' | 'debug', message: string, extra: Record<string, unknown>) => void {
  const child = logger.child({ component });
  return (level, message, extra) => child[level](extra, message);
}
