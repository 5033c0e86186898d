import { Kafka, logLevel, type LogEntry, type logCreator, type SASLOptions } from 'kafkajs';

/** TLS to the brokers: PEM material already read from its files (`@shardsync/config` reads them). */
export interface KafkaTls {
  /** CA certificates that sign the brokers' certificates; Node's built-in CAs when absent. */
  ca?: string | undefined;
  /** Client certificate and key, for brokers that require mutual TLS (`ssl.client.auth=required`). */
  cert?: string | undefined;
  key?: string | undefined;
}

/** SASL authentication, the mechanisms kafkajs implements that need only a user name and password. */
export interface KafkaSasl {
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  username: string;
  password: string;
}

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  /** TLS to every broker (Kafka's `SSL` or `SASL_SSL`); plaintext when absent. */
  tls?: KafkaTls | undefined;
  /** SASL on the connection (Kafka's `SASL_PLAINTEXT`, or `SASL_SSL` with {@link tls}). */
  sasl?: KafkaSasl | undefined;
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

/**
 * Broker answers that are part of normal operation: a broker starting up or moving a group's
 * coordinator, a leader election, a rebalance, a topic another process created first. kafkajs logs
 * each failed response as an error (`Response <API>` with the broker's message) and then retries,
 * rejoins or, for the topics, returns; what still fails after that reaches the caller as an error
 * of its own. Logged as warnings, so that error lines mean something to act on.
 */
const TRANSIENT_RESPONSE_ERRORS = new Set([
  "The coordinator is loading and hence can't process requests for this group",
  'The group coordinator is not available',
  'This is not the correct coordinator for this group',
  'The group is rebalancing, so a rejoin is needed',
  'There is no leader for this topic-partition as we are in the middle of a leadership election',
  'This server is not the leader for that topic-partition',
  'Topic creation errors',
]);

function levelOf(level: logLevel, message: string, extra: Record<string, unknown>): 'error' | 'warn' | 'info' | 'debug' {
  // kafkajs warns at every idempotent producer's start that the bounded retries below could
  // break exactly-once delivery. shardsync does not rely on it (a re-sent event carries the
  // same version and applies once), and bounded retries are deliberate: keep it out of warnings.
  if (message === BOUNDED_RETRIES_WARNING) return 'debug';
  if (level === logLevel.ERROR && message.startsWith('Response ') && TRANSIENT_RESPONSE_ERRORS.has(String(extra['error']))) return 'warn';
  return LEVELS[level] ?? 'info';
}

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
      log(levelOf(level, message, extra), message, extra);
    };
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    ...(options.tls === undefined ? {} : { ssl: tlsOptions(options.tls) }),
    ...(options.sasl === undefined ? {} : { sasl: saslOptions(options.sasl) }),
    connectionTimeout: options.connectionTimeoutMs ?? 3000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    logLevel: logLevel.WARN,
    logCreator: creator,
    // Bounded client-side retries: callers decide what to do with an unavailable broker
    // (the producer answers 503, the consumer waits), so kafkajs must give up in seconds.
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
  });
}

/** Node's TLS options: the broker's certificate is always verified (no switch turns that off). */
function tlsOptions(tls: KafkaTls): { ca?: string; cert?: string; key?: string; rejectUnauthorized: true } {
  return {
    rejectUnauthorized: true,
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
  };
}

function saslOptions(sasl: KafkaSasl): SASLOptions {
  // One object literal per mechanism: kafkajs' types tie each mechanism to its own option shape.
  switch (sasl.mechanism) {
    case 'plain':
      return { mechanism: 'plain', username: sasl.username, password: sasl.password };
    case 'scram-sha-256':
      return { mechanism: 'scram-sha-256', username: sasl.username, password: sasl.password };
    case 'scram-sha-512':
      return { mechanism: 'scram-sha-512', username: sasl.username, password: sasl.password };
  }
}
