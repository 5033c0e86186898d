import { kafkaConnectionOf, loadTopology, topologyPath, type Topology } from '@shardsync/config';
import { classifyKafkaError, createKafkaClient, EventLogAdmin } from '@shardsync/eventlog';
import { StorePool, type ObjectStoreOptions } from '@shardsync/objectstore';
import { silentProgress, type Progress } from './progress.js';

/** The kafkajs client as `@shardsync/eventlog` configures it (the CLI does not import kafkajs itself). */
export type KafkaClient = ReturnType<typeof createKafkaClient>;
/** The kafkajs admin client, for the few calls `EventLogAdmin` does not wrap (groups, offset metadata). */
export type KafkaAdmin = ReturnType<KafkaClient['admin']>;

/** How long an interrupted command waits for its clients to close before it ends anyway. */
const CLOSE_GRACE_AFTER_INTERRUPT_MS = 500;

/** Waits for `work` to settle, but no longer than `ms`; the timer does not outlive it. */
async function settledWithin(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  try {
    await Promise.race([work, elapsed]);
  } finally {
    clearTimeout(timer);
  }
}

/** What every command needs besides its own options. All fields optional; defaults documented per field. */
export interface CliContextOptions {
  /** The topology itself (tests); when given, no file is read. */
  topology?: Topology | undefined;
  /** Topology file (`--topology`). Default: `$SHARDSYNC_TOPOLOGY`, else `./shardsync.topology.yaml`. */
  topologyPath?: string | undefined;
  /** Environment for the topology overrides and credentials. Default `process.env`. */
  env?: NodeJS.ProcessEnv | undefined;
  /** Progress display. Default: none. */
  progress?: Progress | undefined;
  /** Where diagnostics go (`--verbose`: kafkajs warnings). Default: dropped. */
  log?: ((line: string) => void) | undefined;
  /** Options of the object stores the commands open. Default: the store defaults. */
  storeOptions?: ObjectStoreOptions | undefined;
  /** Epoch milliseconds. Default `Date.now`. */
  now?: (() => number) | undefined;
  /** Aborts long work (Ctrl-C). Default: never. */
  signal?: AbortSignal | undefined;
}

/**
 * The topology and the clients a command uses, created on first use and closed together, so a
 * command that only needs S3 never connects to Kafka and vice versa.
 */
export class CliContext {
  readonly env: NodeJS.ProcessEnv;
  readonly progress: Progress;
  readonly now: () => number;
  readonly log: (line: string) => void;
  readonly signal: AbortSignal | undefined;
  readonly #options: CliContextOptions;
  #topology: Topology | undefined;
  #kafka: KafkaClient | undefined;
  #admin: EventLogAdmin | undefined;
  #rawAdmin: Promise<KafkaAdmin> | undefined;
  #stores: StorePool | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: CliContextOptions = {}) {
    this.#options = options;
    this.env = options.env ?? process.env;
    this.progress = options.progress ?? silentProgress;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => undefined);
    this.signal = options.signal;
    this.#topology = options.topology;
  }

  /** The file the topology comes from, or undefined when it was given as an object. */
  get topologyFile(): string | undefined {
    return this.#options.topology !== undefined ? undefined : topologyPath({ path: this.#options.topologyPath, env: this.env });
  }

  /** The validated topology; read on first use (throws `ConfigError` naming the problem). */
  get topology(): Topology {
    this.#topology ??= loadTopology({ path: this.#options.topologyPath, env: this.env });
    return this.#topology;
  }

  kafka(): KafkaClient {
    this.#kafka ??= createKafkaClient({
      ...kafkaConnectionOf(this.topology.kafka, this.env),
      clientId: `${this.topology.kafka.clientId}-cli`,
      log: (level, message, extra) => this.log(`kafkajs ${level}: ${message} ${JSON.stringify(extra)}`),
    });
    return this.#kafka;
  }

  /** Lag, depth and topic creation. */
  admin(): EventLogAdmin {
    this.#admin ??= new EventLogAdmin(this.kafka());
    return this.#admin;
  }

  /** A connected kafkajs admin client. */
  async rawAdmin(): Promise<KafkaAdmin> {
    this.#rawAdmin ??= (async () => {
      const admin = this.kafka().admin();
      try {
        await admin.connect();
      } catch (err) {
        this.#rawAdmin = undefined;
        throw classifyKafkaError(err, 'connecting the Kafka admin client');
      }
      return admin;
    })();
    return this.#rawAdmin;
  }

  /** One store per datacenter (and bucket), sharing sockets. */
  stores(): StorePool {
    this.#stores ??= new StorePool(this.topology.datacenters, this.#options.storeOptions);
    return this.#stores;
  }

  /** Closes every client opened so far; each step on its own, so one failure does not leak the others. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.progress.stop();
      const steps: Array<Promise<unknown>> = [];
      if (this.#admin !== undefined) steps.push(this.#admin.close());
      if (this.#rawAdmin !== undefined) steps.push(this.#rawAdmin.then((a) => a.disconnect()));
      if (this.#stores !== undefined) steps.push(this.#stores.close());
      const closed = Promise.allSettled(steps);
      // A kafkajs client still connecting to a broker that accepts and never answers disconnects
      // only after its request timeout (30 s): an interrupted command must not wait for that.
      await (this.signal?.aborted === true ? settledWithin(closed, CLOSE_GRACE_AFTER_INTERRUPT_MS) : closed);
    })();
    return this.#closing;
  }
}
