import { loadTopology, type Topology } from '@shardsync/config';
import { createTestTopic } from './kafka.js';
import { uniqueName } from './names.js';
import { createTestBucket } from './s3.js';
import { stackInfo } from './stack-info.js';

export interface TestTopologyOptions {
  /** Datasets to declare; default one dataset, named uniquely, replicated to every datacenter. */
  datasets?: Array<{ name: string; datacenters: string[] }>;
  /** Partitions of the updates topic; default 3. */
  partitions?: number;
}

/**
 * The stack's topology with everything a test could collide on made unique: its own updates
 * and dead-letter topics, and its own bucket in every datacenter. All are removed when the
 * test ends, so tests never see each other's leftovers.
 */
export async function createTestTopology(options: TestTopologyOptions = {}): Promise<Topology> {
  const info = stackInfo();
  const base = loadTopology({ path: info.topologyPath });
  const partitions = options.partitions ?? 3;
  const [updates, deadLetters] = await Promise.all([
    createTestTopic({ prefix: 'updates', partitions }),
    createTestTopic({ prefix: 'dlq', partitions: 1 }),
  ]);
  const datacenters = await Promise.all(
    base.datacenters.map(async (dc) => {
      const bucket = await createTestBucket(dc.name, 'ds');
      return { ...dc, s3: { ...dc.s3, bucket: bucket.bucket } };
    }),
  );
  const names = datacenters.map((d) => d.name);
  return {
    ...base,
    // The topics exist already (created above, kept a day), so this only lets tests run services
    // with tombstone grace periods of a few seconds, which must exceed it.
    kafka: { ...base.kafka, topics: { updates, deadLetters }, partitions, retentionMs: 1000 },
    datacenters,
    datasets: options.datasets ?? [{ name: uniqueName('ds').slice(0, 60), datacenters: names }],
  };
}
