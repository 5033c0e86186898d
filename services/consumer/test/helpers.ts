import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { onTestFinished } from 'vitest';
import type { Topology } from '@shardsync/config';
import { createKafkaClient, KafkaEventSink } from '@shardsync/eventlog';
import { encodeShardUpdate, createInlinePayload, type ShardUpdate, type Version } from '@shardsync/events';
import { createLogger } from '@shardsync/runtime';
import { rawS3Client } from '@shardsync/testing';
import { consumerEnvSchema } from '../src/env.js';
import { ConsumerService } from '../src/service.js';

/** Starts a consumer of one datacenter in this process, closed when the test ends. */
export async function startTestConsumer(topology: Topology, datacenter: string, overrides: Record<string, string> = {}): Promise<ConsumerService & { fatal: string[] }> {
  const env = consumerEnvSchema.parse({ SHARDSYNC_DATACENTER: datacenter, SHARDSYNC_CONSUMER_PORT: '0', SHARDSYNC_SOURCE_WAIT_MS: '5000', ...overrides });
  const fatal: string[] = [];
  const service = await ConsumerService.start({ topology, env, logger: createLogger('consumer-test', { datacenter }, 'warn'), onFatal: (reason) => fatal.push(reason) });
  onTestFinished(() => service.close());
  return Object.assign(service, { fatal });
}

/** What a datacenter holds for a dataset, read back byte by byte: key -> SHA-256 of the body. */
export async function storeContents(topology: Topology, datacenter: string, dataset: string): Promise<Record<string, string>> {
  const dc = topology.datacenters.find((d) => d.name === datacenter);
  if (dc === undefined) throw new Error(`no datacenter ${datacenter}`);
  const s3 = rawS3Client(datacenter);
  const out: Record<string, string> = {};
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: dc.s3.bucket, Prefix: `${dataset}/`, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      if (o.Key === undefined || o.Key.includes('.mpus-')) continue;
      const got = await s3.send(new GetObjectCommand({ Bucket: dc.s3.bucket, Key: o.Key }));
      const bytes = await got.Body?.transformToByteArray();
      out[o.Key.slice(dataset.length + 1)] = createHash('sha256').update(bytes ?? new Uint8Array()).digest('hex');
    }
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return out;
}

/** How many objects of the dataset a datacenter holds: listing only, so a probe is quick next to a consumer applying. */
export async function storeKeyCount(topology: Topology, datacenter: string, dataset: string): Promise<number> {
  const dc = topology.datacenters.find((d) => d.name === datacenter);
  if (dc === undefined) throw new Error(`no datacenter ${datacenter}`);
  let count = 0;
  let token: string | undefined;
  do {
    const page = await rawS3Client(datacenter).send(new ListObjectsV2Command({ Bucket: dc.s3.bucket, Prefix: `${dataset}/`, ContinuationToken: token }));
    count += (page.Contents ?? []).filter((o) => o.Key !== undefined && !o.Key.includes('.mpus-')).length;
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return count;
}

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Produces hand-made events straight to the topic, e.g. to deliver versions out of order. */
export async function produceRaw(topology: Topology, events: Array<{ key: string; value: Buffer; headers?: Record<string, string> }>): Promise<void> {
  const sink = new KafkaEventSink(createKafkaClient({ brokers: topology.kafka.brokers, clientId: 'test-raw' }));
  try {
    await sink.append(topology.kafka.topics.updates, events);
  } finally {
    await sink.close();
  }
}

let counter = 0;
/** A hand-made, valid update event for a key, with an explicit version. */
export function makeUpdate(dataset: string, key: string, version: Version, body: string | null, metadata: Record<string, string> = {}): { key: string; value: Buffer; headers: Record<string, string> } {
  counter += 1;
  const common = {
    eventId: `00000000-0000-4000-8000-${String(counter).padStart(12, '0')}`,
    dataset,
    key,
    version,
    originDatacenter: 'dc-a',
    producerId: version.producerId,
    producedAtMs: Date.now(),
    metadata,
  };
  const update: ShardUpdate =
    body === null
      ? { ...common, operation: 'DELETE', size: 0, sha256: null, payload: null }
      : { ...common, operation: 'PUT', size: Buffer.byteLength(body), sha256: sha256(body), payload: createInlinePayload(Buffer.from(body)) };
  const { value, headers } = encodeShardUpdate(update);
  return { key: `${dataset}/${key}`, value, headers };
}
