import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import type { Topology } from '@shardsync/config';
import { createKafkaClient, KafkaEventSink, toDeadLetter, type ConsumedEvent, type DeadLetterReason } from '@shardsync/eventlog';
import { createInlinePayload, datasetPrefix, encodeShardUpdate, formatVersion, META, objectKeyOf, tombstoneKeyOf, type ShardUpdate, type Version } from '@shardsync/events';
import { StorePool } from '@shardsync/objectstore';
import { passHistoryKey } from '@shardsync/reconcile';
import { testRedis, uniqueName } from '@shardsync/testing';
import { onTestFinished } from 'vitest';
import { runCli } from '../src/index.js';
import { cli, writeTopology, type CliRun } from './helpers.js';

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Runs the CLI against a test topology (written to a temporary file) with `--json`, and parses stdout. */
export async function cliJson<T>(topology: Topology, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<CliRun & { json: T }> {
  const run = await cli([...args, '--topology', writeTopology(topology), '--json'], env);
  let json: T;
  try {
    json = JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`shardsync ${args.join(' ')} printed no JSON (exit ${run.code}); stdout: ${run.stdout}; stderr: ${run.stderr}`);
  }
  return { ...run, json };
}

/** A valid update event, encoded as the producer would, with the given production time. */
export function makeUpdate(dataset: string, key: string, version: Version, body: string | null, producedAtMs = Date.now()): { key: string; value: Buffer; headers: Record<string, string> } {
  const common = { eventId: randomUUID(), dataset, key, version, originDatacenter: 'dc-a', producerId: version.producerId, producedAtMs, metadata: {} };
  const update: ShardUpdate =
    body === null
      ? { ...common, operation: 'DELETE', size: 0, sha256: null, payload: null }
      : { ...common, operation: 'PUT', size: Buffer.byteLength(body), sha256: sha256(body), payload: createInlinePayload(Buffer.from(body)) };
  const { value, headers } = encodeShardUpdate(update);
  return { key: `${dataset}/${key}`, value, headers };
}

/** Appends events to a topic and waits for Kafka's acknowledgement. */
export async function produce(topology: Topology, topic: string, events: ReadonlyArray<{ key: string; value: Buffer; headers?: Record<string, string> }>): Promise<void> {
  const sink = new KafkaEventSink(createKafkaClient({ brokers: topology.kafka.brokers, clientId: 'cli-test', log: () => undefined }));
  try {
    await sink.append(topic, events);
  } finally {
    await sink.close();
  }
}

/** The dead letter a consumer of `reason.datacenter` would write for an event read at `partition/offset` of the updates topic. */
export function deadLetterOf(topology: Topology, event: { key: string; value: Buffer; headers: Record<string, string> }, at: { partition: number; offset: string }, reason: DeadLetterReason) {
  const consumed: ConsumedEvent = {
    topic: topology.kafka.topics.updates,
    partition: at.partition,
    offset: at.offset,
    key: Buffer.from(event.key),
    value: event.value,
    headers: event.headers,
    timestampMs: Date.now(),
  };
  return toDeadLetter(consumed, reason, Date.now());
}

/** The stores of a test topology, closed when the test ends. */
export function storesOf(topology: Topology): StorePool {
  const pool = new StorePool(topology.datacenters);
  onTestFinished(() => pool.close());
  return pool;
}

export function v(physicalMs: number, logical = 0, producerId = 'producer-1'): Version {
  return { physicalMs, logical, producerId };
}

/** Writes an object the way the consumer applies a put: body plus version, SHA-256 and event id metadata. */
export async function putManaged(pool: StorePool, datacenter: string, dataset: string, key: string, body: string, version: Version): Promise<void> {
  await pool.of(datacenter).put(objectKeyOf(dataset, key), Buffer.from(body), {
    metadata: { [META.version]: formatVersion(version), [META.sha256]: sha256(body), [META.eventId]: randomUUID() },
    contentType: 'application/octet-stream',
  });
}

/** Writes a tombstone the way the consumer applies a delete. */
export async function putTombstone(pool: StorePool, datacenter: string, dataset: string, key: string, version: Version, deletedAtMs = Date.now()): Promise<void> {
  await pool.of(datacenter).put(tombstoneKeyOf(dataset, key), Buffer.alloc(0), {
    metadata: { [META.version]: formatVersion(version), [META.deletedAtMs]: String(deletedAtMs) },
  });
}

/**
 * An environment whose passes are recorded under a pass-history prefix of their own, deleted
 * from Redis when the test ends.
 */
export function withPassHistory(dataset: string): NodeJS.ProcessEnv {
  const prefix = uniqueName('cli-history');
  onTestFinished(async () => {
    await testRedis().del(passHistoryKey(dataset, { keyPrefix: `${prefix}:reconcile-history` }));
  });
  return { ...process.env, SHARDSYNC_RECONCILER_REDIS_PREFIX: prefix };
}

/** The keys a datacenter lists under a dataset, relative to it, sorted. */
export async function keysIn(pool: StorePool, datacenter: string, dataset: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of pool.of(datacenter).list({ prefix: datasetPrefix(dataset) })) keys.push(entry.key.slice(dataset.length + 1));
  return keys.sort();
}

/**
 * A server that accepts TCP connections and never answers, like a broker or store that hangs:
 * clients wait for their timeouts. Closed when the test ends. Returns its `host:port`.
 */
export async function silentServer(): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the silent server has no TCP address');
  return `127.0.0.1:${address.port}`;
}

/** Runs the CLI with `--json` and interrupts it (Ctrl-C, as main.ts delivers it) after `afterMs`; how long it took to stop after that. */
export async function interruptedRun(topology: Topology, args: readonly string[], afterMs: number, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; json: unknown; stoppedAfterMs: number }> {
  const controller = new AbortController();
  let stdout = '';
  let interruptedAt = Number.NaN;
  const timer = setTimeout(() => {
    interruptedAt = Date.now();
    controller.abort(new Error('interrupted by SIGINT'));
  }, afterMs);
  try {
    const code = await runCli([...args, '--topology', writeTopology(topology), '--json'], { stdout: { write: (s) => ((stdout += s), true) }, stderr: { write: () => true }, env, signal: controller.signal });
    return { code, json: JSON.parse(stdout) as unknown, stoppedAfterMs: Date.now() - interruptedAt };
  } finally {
    clearTimeout(timer);
  }
}
