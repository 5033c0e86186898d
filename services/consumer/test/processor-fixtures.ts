import { parseTopology } from '@shardsync/config';
import type { ConsumedEvent, EventSink, OutgoingEvent, PartitionBatch } from '@shardsync/eventlog';
import { bundledSchemaRegistry, createInlinePayload, encodeShardUpdate, type ShardUpdate } from '@shardsync/events';
import { sha256Hex } from '@shardsync/integrity';
import { createLogger, type Logger } from '@shardsync/runtime';
import { vi } from 'vitest';
import type { ApplyOutcome } from '../src/apply/applier.js';
import { ApplyError } from '../src/apply/errors.js';
import { BatchProcessor, type ProcessorDeps } from '../src/batch/processor.js';
import { ConsumerMetrics } from '../src/metrics.js';

/** Fixtures of the BatchProcessor's tests: a topology, events, a fake partition batch, a processor over a fake applier. */
const topology = parseTopology(
  `
kafka: { brokers: ["127.0.0.1:1"] }
redis: { url: "redis://127.0.0.1:1" }
datacenters:
  - { name: dc-a, s3: { endpoint: "http://127.0.0.1:1", region: r, bucket: bucket-a } }
  - { name: dc-b, s3: { endpoint: "http://127.0.0.1:2", region: r, bucket: bucket-b } }
datasets:
  - { name: ds, datacenters: [dc-a, dc-b] }
  - { name: only-a, datacenters: [dc-a] }
`,
  { env: {} },
);

let offset = 0;
export function event(update: ShardUpdate | Buffer): ConsumedEvent {
  const encoded = Buffer.isBuffer(update) ? { value: update, headers: {} } : encodeShardUpdate(update);
  const o = String(offset++);
  return { topic: 'shardsync.updates', partition: 0, offset: o, key: null, value: encoded.value, headers: encoded.headers, timestampMs: 0 };
}

/** An event at an explicit offset (a refetch, or a topic created again). */
export function at(offsetOf: number, update: ShardUpdate | Buffer): ConsumedEvent {
  return { ...event(update), offset: String(offsetOf) };
}

export function put(key: string, physicalMs: number, dataset = 'ds'): ShardUpdate {
  const body = `${key}@${physicalMs}`;
  return {
    eventId: `00000000-0000-4000-8000-${String(physicalMs).padStart(12, '0')}`,
    dataset,
    key,
    operation: 'PUT',
    version: { physicalMs, logical: 0, producerId: 'p' },
    size: body.length,
    sha256: sha256Hex(body),
    payload: createInlinePayload(Buffer.from(body)),
    originDatacenter: 'dc-a',
    producerId: 'p',
    producedAtMs: 0,
    metadata: {},
  };
}

export function fakeBatch(events: ConsumedEvent[]): PartitionBatch & { marked: string[]; commits: number; pauses: number[] } {
  const marked: string[] = [];
  const pauses: number[] = [];
  const batch = {
    topic: 'shardsync.updates',
    partition: 0,
    events,
    highWatermark: String(Number(events.at(-1)?.offset ?? 0) + 1),
    marked,
    pauses,
    commits: 0,
    markDone: (o: string) => marked.push(o),
    commit: async () => {
      batch.commits += 1;
    },
    heartbeat: async () => undefined,
    isActive: () => true,
    fence: () => ({ held: () => true }),
    pauseFor: (ms: number) => void pauses.push(ms),
  };
  return batch;
}

/**
 * Hands `events` to the processor as Kafka does: after a batch that paused its partition, the
 * events from the first one not marked done, once the pause is over. Works with fake timers.
 */
export async function deliverUntilDone(p: BatchProcessor, events: ConsumedEvent[]): Promise<{ batches: number; pauses: number[] }> {
  let remaining = events;
  const pauses: number[] = [];
  let batches = 0;
  while (remaining.length > 0) {
    const batch = fakeBatch(remaining);
    await p.handle(batch);
    batches += 1;
    const last = batch.marked.at(-1);
    if (last !== undefined) remaining = remaining.filter((e) => BigInt(e.offset) > BigInt(last));
    const [pause] = batch.pauses;
    if (pause === undefined) break;
    pauses.push(pause);
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
  if (remaining.length > 0) throw new Error(`a batch returned with ${remaining.length} event(s) neither done nor paused for`);
  return { batches, pauses };
}

export function processor(
  apply: (u: ShardUpdate) => Promise<ApplyOutcome>,
  letters: OutgoingEvent[] = [],
  logger: Logger = createLogger('test', {}, 'silent'),
  overrides: Partial<ProcessorDeps> = {},
): BatchProcessor {
  const sink: EventSink = {
    append: async (_topic, events) => {
      letters.push(...events);
    },
    ping: async () => undefined,
    close: async () => undefined,
  };
  return new BatchProcessor({
    datacenter: 'dc-b',
    topology,
    registry: bundledSchemaRegistry(),
    applier: { apply },
    deadLetters: sink,
    metrics: new ConsumerMetrics(),
    logger,
    concurrency: 4,
    sourceWaitMs: 1000,
    sourceMismatchWaitMs: 1000,
    onProgress: () => undefined,
    signal: new AbortController().signal,
    ...overrides,
  });
}

export const applied: ApplyOutcome = { result: 'applied', operation: 'PUT', bytes: 1, mode: 'inline' };

export const unavailable = (): ApplyError => new ApplyError('SHARDSYNC_SOURCE_UNAVAILABLE', 'the staged copy is not readable yet', { retriable: true });

/** Handles one batch under fake timers, letting `ms` of them run (the retries inside the batch). */
export async function handleFor(p: BatchProcessor, batch: PartitionBatch, ms = 3000): Promise<void> {
  const handled = p.handle(batch);
  await vi.advanceTimersByTimeAsync(ms);
  await handled;
}
