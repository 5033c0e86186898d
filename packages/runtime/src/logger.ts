import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Fields never written. ioredis attaches the failed command and its arguments to its errors
 * (`err.command.args`); for a refused AUTH (wrong password) those are the username and password,
 * and the services log every Redis connection error.
 */
const REDACTED_PATHS = ['err.command.args', '*.command.args'];

/**
 * JSON lines on stdout (or `destination`), one logger per service, with the service and datacenter
 * on every line so the logs of several processes can be merged. Level from `SHARDSYNC_LOG_LEVEL`.
 */
export function createLogger(service: string, fields: Record<string, string> = {}, level = process.env['SHARDSYNC_LOG_LEVEL'] ?? 'info', destination?: DestinationStream): Logger {
  const options = { level, base: { service, ...fields }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/** Routes a library's leveled log lines (e.g. kafkajs through @shardsync/eventlog) into a service logger. */
export function logTo(logger: Logger, component: string): (level: 'error' | 'warn' | 'info' | 'debug', message: string, extra: Record<string, unknown>) => void {
  const child = logger.child({ component });
  return (level, message, extra) => child[level](extra, message);
}
