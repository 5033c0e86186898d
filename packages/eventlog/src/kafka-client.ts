import { Kafka, logLevel, type LogEntry, type logCreator } from 'kafkajs';

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  /** Connection timeout in ms. Default 3000. */
  connectionTimeoutMs?: number;
  /** Request timeout in ms. Default 30000. */
  requestTimeoutMs?: number;
  /** Where kafkajs log lines go; default: warnings and errors to stderr as JSON. */
  log?: (level: 'error' | 'warn' | 'info' | 'debug', message: string, extra: Record<string, unknown>) => void;
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

const BOUNDED_RETRIES_WARNING = 'Limiting retries for the idempotent producer may invalidate EoS guarantees';

function defaultLog(level: string, message: string, extra: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ level, component: 'kafkajs', msg: message, ...extra })}\n`);
}

/** The one place a kafkajs client is configured; the rest of the code sees only the interfaces. */
export function createKafkaClient(options: KafkaClientOptions): Kafka {
  const log = options.log ?? defaultLog;
  const creator: logCreator =
    () =>
    ({ level, log: entry }: LogEntry) => {
      const { message, ...extra } = entry;
      // kafkajs warns at every idempotent producer's start that the bounded retries below could
      // break exactly-once delivery. shardsync does not rely on it (a re-sent event carries the
      // same version and applies once), and bounded retries are deliberate: keep it out of warnings.
      const known = message === BOUNDED_RETRIES_WARNING;
      log(known ? 'debug' : (LEVELS[level] ?? 'info'), message, extra);
    };
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: options.connectionTimeoutMs ?? 3000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    logLevel: logLevel.WARN,
    logCreator: creator,
    // Bounded client-side retries: callers decide what to do with an unavailable broker
    // (the producer answers 503, the consumer waits), so kafkajs must give up in seconds.
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
  });
}
