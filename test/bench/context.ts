import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Topology } from '@shardsync/config';
import { cpuSecondsOf } from '../demo/children.js';
import { Services } from '../demo/services.js';
import type { RunningStack } from '../demo/stack.js';
import { rawS3Client } from '../demo/stores.js';
import { benchKafka, waitForGroups } from './kafka.js';
import { hotSpots, type HotSpot } from './profile.js';

/** The environment of the bench's processes: no SHARDSYNC_* override may point them at another stack. */
export function benchEnv(topologyPath: string, stateDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^SHARDSYNC_(KAFKA_|DC_|REDIS_|STATE_DIR|TOPOLOGY|LOG_LEVEL)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, SHARDSYNC_TOPOLOGY: topologyPath, SHARDSYNC_STATE_DIR: stateDir, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', KAFKAJS_NO_PARTITIONER_WARNING: '1' };
}

/** What every scenario gets: the bench's own stack and topology, and helpers around them. */
export interface BenchContext {
  readonly repoRoot: string;
  readonly topology: Topology;
  readonly topologyPath: string;
  readonly stateDir: string;
  /** The environment for every child process: SHARDSYNC_* overrides removed, the bench topology set. */
  readonly env: NodeJS.ProcessEnv;
  readonly stack: RunningStack;
  /** Repetitions per measurement (>= 3 for the published table). */
  readonly reps: number;
  /** Smaller sizes, for a quick check of the harness itself; not for BENCHMARKS.md. */
  readonly quick: boolean;
  /** When set, services run with `--cpu-prof` and write their profiles under this folder. */
  readonly profileDir?: string | undefined;
  log(line: string): void;
}

/** A raw SDK client per datacenter, created once per bench run. */
const clients = new Map<string, S3Client>();
export function storeOf(ctx: BenchContext, datacenter: string): { client: S3Client; bucket: string } {
  const dc = ctx.topology.datacenters.find((d) => d.name === datacenter);
  if (dc === undefined) throw new Error(`the bench topology has no datacenter ${datacenter}`);
  let client = clients.get(datacenter);
  if (client === undefined) {
    client = rawS3Client(dc, 128);
    clients.set(datacenter, client);
  }
  return { client, bucket: dc.s3.bucket };
}

export function closeStores(): void {
  for (const c of clients.values()) c.destroy();
  clients.clear();
}

/**
 * Deletes every object under the prefixes (folders ending in "/") in every datacenter, between
 * repetitions so the disk stays bounded. Removed on the S3 servers' disks: the bench owns its
 * stack, s3proxy's filesystem backend keeps no index, and deleting thousands of small objects
 * through its API takes longer than the measurement they served.
 */
export async function deletePrefixes(ctx: BenchContext, prefixes: readonly string[]): Promise<void> {
  await Promise.all(
    ctx.topology.datacenters.flatMap((dc) =>
      prefixes.map((prefix) => {
        if (!prefix.endsWith('/') || prefix.split('/').includes('..')) throw new Error(`deletePrefixes: "${prefix}" must be a folder ending in "/"`);
        return rm(join(ctx.stateDir, 's3', dc.name, dc.s3.bucket, ...prefix.split('/').filter(Boolean)), { recursive: true, force: true });
      }),
    ),
  );
}

export interface BenchServicesOptions {
  /** Names the log folder and the topic. */
  readonly name: string;
  readonly consumers: readonly string[];
  readonly producerDatacenter?: string | undefined;
  readonly producerEnv?: Readonly<Record<string, string>> | undefined;
  readonly consumerEnv?: Readonly<Record<string, string>> | undefined;
}

/** A producer and consumers of the bench, on a topic of their own, ready and owning their partitions. */
export interface BenchServices {
  readonly services: Services;
  readonly token: string;
  readonly topic: string;
  /** CPU seconds used so far by the producer and the consumers. */
  cpu(): { producer: number; consumers: number };
  close(): Promise<void>;
}

/** Services running now, so an interrupted or failed scenario leaves none behind. */
const live = new Set<Services>();

export async function stopAllBenchServices(): Promise<void> {
  await Promise.all([...live].map((s) => s.close()));
  live.clear();
}

export async function startBenchServices(ctx: BenchContext, options: BenchServicesOptions): Promise<BenchServices> {
  const token = randomBytes(16).toString('hex');
  const topic = `shardsync.bench.${options.name}.${Date.now().toString(36)}`;
  const services = await Services.start({
    repoRoot: ctx.repoRoot,
    topology: ctx.topology,
    topologyPath: ctx.topologyPath,
    env: { ...ctx.env, SHARDSYNC_KAFKA_TOPIC_UPDATES: topic, SHARDSYNC_LOG_LEVEL: 'warn' },
    logDir: join(ctx.stateDir, 'logs', 'bench', options.name),
    producerDatacenter: options.producerDatacenter,
    consumerDatacenters: options.consumers,
    token,
    reconciler: false,
    // Apart from the demo's 18080-18100 and from the bench stack's servers (S3 28001-28004,
    // Kafka 28092-28093), below Linux's ephemeral port range.
    ports: { producer: 28080, consumerBase: 28110, reconciler: 28100 },
    producerEnv: options.producerEnv,
    consumerEnv: options.consumerEnv,
    producerNodeArgs: profileArgs(ctx, options.name, 'producer'),
    consumerNodeArgs: profileArgs(ctx, options.name, 'consumers'),
    log: () => undefined,
  });
  live.add(services);
  try {
    await waitForGroups(
      benchKafka(ctx.topology.kafka.brokers, 'shardsync-bench-admin'),
      options.consumers.map((dc) => `shardsync.dc.${dc}`),
    );
  } catch (err) {
    live.delete(services);
    await services.close();
    throw err;
  }
  const cpuOf = (pid: number) => cpuSecondsOf(pid) ?? 0;
  return {
    services,
    token,
    topic,
    cpu: () => ({
      producer: cpuOf(services.producer.child.pid),
      consumers: [...services.consumers.values()].reduce((s, c) => s + cpuOf(c.child.pid), 0),
    }),
    close: async () => {
      live.delete(services);
      await services.close();
    },
  };
}

function profileArgs(ctx: BenchContext, name: string, role: string): string[] {
  return ctx.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(ctx.profileDir, name, role)}`];
}

/** Where the CPU of the services of `name` went (after they stopped), when profiling. */
export async function profileSummary(ctx: BenchContext, name: string): Promise<Record<string, HotSpot[]> | undefined> {
  if (ctx.profileDir === undefined) return undefined;
  const out: Record<string, HotSpot[]> = {};
  for (const role of ['producer', 'consumers']) {
    out[role] = await hotSpots(join(ctx.profileDir, name, role));
    ctx.log(`profile of ${name} ${role} (self time):\n${(out[role] ?? []).map((h) => `    ${String(h.selfPercent).padStart(5)}%  ${h.where}`).join('\n')}`);
  }
  return out;
}

/** CPU seconds of the stack's servers (Kafka, the S3 servers) so far, by server name. */
export function serverCpu(ctx: BenchContext): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of ctx.stack.status.servers) if (s.pid !== null) out[s.name] = cpuSecondsOf(s.pid) ?? 0;
  return out;
}

export function diffCpu(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, Math.round((v - (before[k] ?? 0)) * 100) / 100]));
}

/** Jiffies of the whole machine (all CPUs) from /proc/stat: busy and total. */
export function machineJiffies(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

/** Share of the machine's CPU time that was busy between two readings (0..1). */
export function busyShare(before: { busy: number; total: number }, after: { busy: number; total: number }): number {
  const total = after.total - before.total;
  return total <= 0 ? 0 : (after.busy - before.busy) / total;
}
