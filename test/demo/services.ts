import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Topology } from '@shardsync/config';
import { Child, freePort, waitUntilReady } from './children.js';

/** Where the built services live (the demo runs what `npm run build` produced, as a deployment would). */
export function serviceEntry(repoRoot: string, service: 'producer' | 'consumer' | 'reconciler'): string {
  return join(repoRoot, 'services', service, 'dist', 'main.js');
}

export interface ServicesOptions {
  readonly repoRoot: string;
  readonly topology: Topology;
  /** Absolute path of the topology file, handed to every service. */
  readonly topologyPath: string;
  /** The environment the services inherit (SHARDSYNC_* overrides included). */
  readonly env: NodeJS.ProcessEnv;
  readonly logDir: string;
  /** The datacenter the producer runs in (stages large bodies there). Default: the first one. */
  readonly producerDatacenter?: string | undefined;
  /** Consumers to run. Default: one per datacenter of the topology. */
  readonly consumerDatacenters?: readonly string[] | undefined;
  /** Bearer token of the producer (`demo` may write every dataset). */
  readonly token: string;
  /** Run the reconciler service too (when it is built). Default true. */
  readonly reconciler?: boolean | undefined;
  /** Extra variables per service. */
  readonly producerEnv?: Readonly<Record<string, string>> | undefined;
  readonly consumerEnv?: Readonly<Record<string, string>> | undefined;
  /** Extra `node` flags per service (e.g. `--cpu-prof`, which NODE_OPTIONS does not allow). */
  readonly producerNodeArgs?: readonly string[] | undefined;
  readonly consumerNodeArgs?: readonly string[] | undefined;
  /** Preferred ports (a busy one is replaced by a free one). Default producer 18080, consumers 18090 + i, reconciler 18100. */
  readonly ports?: { readonly producer: number; readonly consumerBase: number; readonly reconciler: number } | undefined;
  readonly readyTimeoutMs?: number | undefined;
  readonly log: (line: string) => void;
  readonly signal?: AbortSignal | undefined;
}

/** A running service and where its HTTP endpoints answer. */
export interface RunningService {
  readonly child: Child;
  /** Base URL, e.g. `http://127.0.0.1:18080`. */
  readonly url: string;
}

/** The shardsync processes of one run: a producer, one consumer per datacenter, maybe a reconciler. */
export class Services {
  readonly producer: RunningService;
  readonly consumers: ReadonlyMap<string, RunningService>;
  readonly reconciler: RunningService | undefined;
  readonly producerDatacenter: string;
  #closing: Promise<void> | undefined;

  private constructor(producerDatacenter: string, producer: RunningService, consumers: ReadonlyMap<string, RunningService>, reconciler: RunningService | undefined) {
    this.producerDatacenter = producerDatacenter;
    this.producer = producer;
    this.consumers = consumers;
    this.reconciler = reconciler;
  }

  all(): Child[] {
    return [this.producer.child, ...[...this.consumers.values()].map((c) => c.child), ...(this.reconciler === undefined ? [] : [this.reconciler.child])];
  }

  /** Resolves with a description when any service exits although nobody asked it to. */
  async firstUnexpectedExit(): Promise<string> {
    return Promise.race(
      this.all().map(async (child) => {
        await child.exited;
        if (child.stopping) return new Promise<string>(() => undefined);
        return child.describeExit();
      }),
    );
  }

  /** Starts every service in parallel and waits until each answers /readyz. */
  static async start(options: ServicesOptions): Promise<Services> {
    const started: Child[] = [];
    try {
      return await Services.#start(options, started);
    } catch (err) {
      await Promise.all(started.map((c) => c.stop(5_000)));
      throw err;
    }
  }

  static async #start(options: ServicesOptions, started: Child[]): Promise<Services> {
    const { repoRoot, topology, log } = options;
    const producerDc = options.producerDatacenter ?? topology.datacenters[0]?.name;
    if (producerDc === undefined) throw new Error('the topology lists no datacenter');
    const consumerDcs = options.consumerDatacenters ?? topology.datacenters.map((d) => d.name);
    for (const service of ['producer', 'consumer'] as const) {
      if (!existsSync(serviceEntry(repoRoot, service))) {
        throw new Error(`${serviceEntry(repoRoot, service)} does not exist: build first (\`npm run build\`; \`npm start\` does it for you)`);
      }
    }
    const withReconciler = (options.reconciler ?? true) && existsSync(serviceEntry(repoRoot, 'reconciler'));
    if ((options.reconciler ?? true) && !withReconciler) log('reconciler service: not built (services/reconciler/dist/main.js is missing); running without it');

    const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
    const base: NodeJS.ProcessEnv = {
      ...options.env,
      SHARDSYNC_TOPOLOGY: options.topologyPath,
      SHARDSYNC_LOG_LEVEL: options.env['SHARDSYNC_LOG_LEVEL'] ?? 'info',
    };
    const nodeArgs = { producer: options.producerNodeArgs ?? [], consumer: options.consumerNodeArgs ?? [], reconciler: [] };
    const launch = async (name: string, service: 'producer' | 'consumer' | 'reconciler', env: Record<string, string>, port: number): Promise<RunningService> => {
      const child = await Child.start({
        name,
        command: process.execPath,
        args: [...nodeArgs[service], serviceEntry(repoRoot, service)],
        env: { ...base, ...env },
        cwd: repoRoot,
        logFile: join(options.logDir, `${name.replace(/\s+/g, '-')}.log`),
      });
      started.push(child);
      const url = `http://127.0.0.1:${port}`;
      await waitUntilReady(`${url}/readyz`, child, readyTimeoutMs, options.signal);
      // Another program may have taken the port between the check and the listen, and answered
      // the probe: a child that died meanwhile (EADDRINUSE) was not the one that was ready.
      await new Promise((r) => setTimeout(r, 300));
      if (!child.running) throw new Error(child.describeExit());
      log(`${name}: ready at ${url} (pid ${child.pid}, log ${child.spec.logFile})`);
      return { child, url };
    };

    const ports = options.ports ?? { producer: 18080, consumerBase: 18090, reconciler: 18100 };
    const producerPort = await freePort(ports.producer);
    const consumerPorts = new Map<string, number>();
    for (const [i, dc] of consumerDcs.entries()) consumerPorts.set(dc, await freePort(ports.consumerBase + i));
    const reconcilerPort = withReconciler ? await freePort(ports.reconciler) : 0;

    // allSettled, not all: when one service fails, the others must have finished starting
    // before the caller stops them, or a late one would be left behind.
    const settled = await Promise.allSettled([
      launch(
        'producer',
        'producer',
        {
          SHARDSYNC_DATACENTER: producerDc,
          SHARDSYNC_PRODUCER_PORT: String(producerPort),
          SHARDSYNC_PRODUCER_TOKENS: `demo:${options.token}:*`,
          ...options.producerEnv,
        },
        producerPort,
      ),
      ...consumerDcs.map((dc) => {
        const port = consumerPorts.get(dc) ?? 0;
        return launch(`consumer ${dc}`, 'consumer', { SHARDSYNC_DATACENTER: dc, SHARDSYNC_CONSUMER_PORT: String(port), ...options.consumerEnv }, port);
      }),
      ...(withReconciler ? [launch('reconciler', 'reconciler', { SHARDSYNC_RECONCILER_PORT: String(reconcilerPort) }, reconcilerPort)] : []),
    ]);
    const failed = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
    if (failed.length > 0) {
      throw new Error(`services failed to start:\n${failed.map((e) => (e instanceof Error ? e.message : String(e))).join('\n\n')}`, { cause: failed[0] });
    }
    const ok = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const [producer, ...rest] = ok;
    if (producer === undefined) throw new Error('internal: no producer');
    const consumers = new Map(consumerDcs.map((dc, i) => [dc, rest[i] as RunningService]));
    const reconciler = withReconciler ? rest[consumerDcs.length] : undefined;
    return new Services(producerDc, producer, new Map(consumers), reconciler);
  }

  /** Stops every service (SIGTERM, then SIGKILL after the grace period). Idempotent. */
  close(graceMs = 20_000): Promise<void> {
    this.#closing ??= Promise.all(this.all().map((c) => c.stop(graceMs))).then(() => undefined);
    return this.#closing;
  }
}
