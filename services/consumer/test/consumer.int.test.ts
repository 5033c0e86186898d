import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { createKafkaClient, EventLogAdmin, readDeadLetter } from '@shardsync/eventlog';
import { tombstonePrefix } from '@shardsync/events';
import { createTestTopology, rawS3Client, readTopic, waitFor } from '@shardsync/testing';
import { groupIdOf } from '../src/service.js';
import { makeUpdate, produceRaw, sha256, startTestConsumer, storeContents } from './helpers.js';

const DCS = ['dc-a', 'dc-b', 'dc-c'];
const v = (physicalMs: number, producerId = 'p1', logical = 0) => ({ physicalMs, logical, producerId });

async function converged(topology: Awaited<ReturnType<typeof createTestTopology>>, dataset: string, expected: Record<string, string>, timeoutMs = 60_000): Promise<void> {
  for (const dc of DCS) {
    await waitFor(
      async () => {
        const got = await storeContents(topology, dc, dataset);
        return JSON.stringify(got) === JSON.stringify(sortKeys(expected)) ? true : undefined;
      },
      { timeoutMs, intervalMs: 250, what: `${dc} to hold exactly ${JSON.stringify(expected)}` },
    );
    expect(await storeContents(topology, dc, dataset)).toEqual(expected);
  }
}

/** Tombstones of a dataset that a datacenter's bucket holds. */
async function tombstonesIn(topology: Awaited<ReturnType<typeof createTestTopology>>, datacenter: string, dataset: string): Promise<number> {
  const bucket = topology.datacenters.find((d) => d.name === datacenter)?.s3.bucket;
  const page = await rawS3Client(datacenter).send(new ListObjectsV2Command({ Bucket: bucket, Prefix: tombstonePrefix(dataset) }));
  return (page.Contents ?? []).filter((o) => o.Key !== undefined && !o.Key.includes('.mpus-')).length;
}

/** Waits until every datacenter's consumer group has committed every event of the updates topic. */
async function allCommitted(topology: Awaited<ReturnType<typeof createTestTopology>>): Promise<void> {
  const lag = new EventLogAdmin(createKafkaClient({ brokers: topology.kafka.brokers, clientId: 'test-lag' }));
  try {
    for (const dc of DCS) {
      await waitFor(
        async () => ((await lag.groupLag(groupIdOf(dc), topology.kafka.topics.updates)).every((p) => p.lag === 0) ? true : undefined),
        { what: `${dc} to commit every event` },
      );
    }
  } finally {
    await lag.close();
  }
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
}

describe('consumer', () => {
  it('puts, overwrites and deletes reach all three datacenters', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]!.name;
    await Promise.all(DCS.map((dc) => startTestConsumer(topology, dc)));
    await produceRaw(topology, [
      makeUpdate(dataset, 'a.txt', v(1000), 'a1'),
      makeUpdate(dataset, 'b.txt', v(1001), 'b1'),
      makeUpdate(dataset, 'dir/c.txt', v(1002), 'c1'),
      makeUpdate(dataset, 'a.txt', v(1003), 'a2'),
      makeUpdate(dataset, 'b.txt', v(1004), null),
    ]);
    await converged(topology, dataset, sortKeys({ 'a.txt': sha256('a2'), 'dir/c.txt': sha256('c1') }));
  });

  it("a body a client sent form-encoded (curl's default) is replicated intact", async () => {
    const topology = await createTestTopology({ partitions: 1 });
    const dataset = topology.datasets[0]!.name;
    await Promise.all(DCS.map((dc) => startTestConsumer(topology, dc)));
    const update = makeUpdate(dataset, 'form.bin', v(1000), 'a=1&b=2', { 'content-type': 'application/x-www-form-urlencoded' });
    await produceRaw(topology, [update]);
    await converged(topology, dataset, { 'form.bin': sha256('a=1&b=2') });
  });

  it('duplicates (offsets reset to earliest) and reordered versions of a key converge to the highest', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]!.name;
    await produceRaw(topology, [
      makeUpdate(dataset, 'k', v(3000), 'third'),
      makeUpdate(dataset, 'k', v(1000), 'first'),
      makeUpdate(dataset, 'k', v(2000), 'second'),
      makeUpdate(dataset, 'k', v(3000, 'p0'), 'same ms, lower producer id'),
    ]);
    const first = await Promise.all(DCS.map((dc) => startTestConsumer(topology, dc)));
    await converged(topology, dataset, { k: sha256('third') });
    await Promise.all(first.map((c) => c.close()));

    const kafka = createKafkaClient({ brokers: topology.kafka.brokers, clientId: 'test-reset' });
    const admin = kafka.admin();
    await admin.connect();
    for (const dc of DCS) await admin.resetOffsets({ groupId: groupIdOf(dc), topic: topology.kafka.topics.updates, earliest: true });
    await admin.disconnect();

    const again = await Promise.all(DCS.map((dc) => startTestConsumer(topology, dc)));
    const lag = new EventLogAdmin(kafka);
    await waitFor(
      async () => {
        const partitions = await lag.groupLag(groupIdOf('dc-b'), topology.kafka.topics.updates);
        if (partitions.every((p) => p.lag === 0)) return true;
        throw new Error(`lag ${JSON.stringify(partitions)}`);
      },
      { what: 'dc-b to re-read every event' },
    );
    await lag.close();
    await converged(topology, dataset, { k: sha256('third') });
    const skipped = await again[1]!.metrics.skipped.get();
    expect(skipped.values.reduce((s, x) => s + x.value, 0)).toBeGreaterThanOrEqual(1);
  });

  it('a delete followed by a late, older put stays deleted', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]!.name;
    const consumers = await Promise.all(DCS.map((dc) => startTestConsumer(topology, dc)));
    await produceRaw(topology, [makeUpdate(dataset, 'gone', v(1000), 'old'), makeUpdate(dataset, 'gone', v(5000), null), makeUpdate(dataset, 'marker', v(5001), 'm')]);
    await converged(topology, dataset, { marker: sha256('m') });
    await produceRaw(topology, [makeUpdate(dataset, 'gone', v(3000), 'late older put'), makeUpdate(dataset, 'marker2', v(5002), 'm2')]);
    // The marker may sit in another partition than the late put: only once every event is
    // committed (after its apply) does the store show what the late put left.
    await allCommitted(topology);
    for (const dc of DCS) expect(await storeContents(topology, dc, dataset), dc).toEqual(sortKeys({ marker: sha256('m'), marker2: sha256('m2') }));
    for (const consumer of consumers) {
      const stale = (await consumer.metrics.skipped.get()).values.find((x) => x.labels.reason === 'stale')?.value;
      expect(stale).toBe(1);
    }
  });

  it('a tombstone past the grace period is deleted while the consumer group stays stable', async () => {
    const topology = await createTestTopology({ partitions: 1 });
    const dataset = topology.datasets[0]!.name;
    const consumer = await startTestConsumer(topology, 'dc-b', { SHARDSYNC_TOMBSTONE_GRACE_MS: '2000', SHARDSYNC_TOMBSTONE_SWEEP_INTERVAL_MS: '1000' });
    await waitFor(() => (consumer.assignedPartitions().length > 0 ? true : undefined), { what: 'the partition to be assigned' });
    await produceRaw(topology, [makeUpdate(dataset, 'gone', v(1000), 'x'), makeUpdate(dataset, 'gone', v(2000), null)]);
    await waitFor(async () => ((await tombstonesIn(topology, 'dc-b', dataset)) === 1 ? true : undefined), { what: 'the tombstone to be written' });
    // Nothing reassigns the partition from here on, so only the periodic sweep can expire it.
    await waitFor(async () => ((await tombstonesIn(topology, 'dc-b', dataset)) === 0 ? true : undefined), { timeoutMs: 20_000, intervalMs: 250, what: 'the tombstone to expire' });
    expect(consumer.assignedPartitions()).toEqual([0]);
    expect((await consumer.metrics.tombstonesExpired.get()).values.map((x) => x.value)).toEqual([1]);
  });

  it('raw garbage bytes land in the dead-letter topic with their origin, and later events still apply', async () => {
    const topology = await createTestTopology({ partitions: 1 });
    const dataset = topology.datasets[0]!.name;
    await Promise.all(DCS.map((dc) => startTestConsumer(topology, dc)));
    await produceRaw(topology, [
      { key: 'garbage', value: Buffer.from([0xde, 0xad, 0xbe, 0xef]) },
      { key: 'garbage-2', value: Buffer.from('not avro'), headers: { 'shardsync-schema': 'ffff' } },
      makeUpdate(dataset, 'after.txt', v(1000), 'still applied'),
    ]);
    await converged(topology, dataset, { 'after.txt': sha256('still applied') });
    const letters = await waitFor(async () => {
      const msgs = await readTopic(topology.kafka.topics.deadLetters);
      return msgs.length >= 6 ? msgs : undefined;
    }, { what: 'two dead letters per datacenter' });
    const infos = letters.map((m) => readDeadLetter(m.headers));
    expect(new Set(infos.map((i) => i?.datacenter))).toEqual(new Set(DCS));
    expect(infos.every((i) => i?.originalTopic === topology.kafka.topics.updates && i.originalPartition === 0)).toBe(true);
    expect(new Set(infos.map((i) => i?.originalOffset))).toEqual(new Set(['0', '1']));
    expect(new Set(infos.map((i) => i?.code))).toEqual(new Set(['SHARDSYNC_UNDECODABLE_EVENT', 'SHARDSYNC_UNKNOWN_SCHEMA']));
    expect(letters.find((m) => m.key?.toString() === 'garbage')?.value).toEqual(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  });

  it('two consumer instances of one datacenter split the partitions, and a rebalance mid-batch loses nothing', async () => {
    const topology = await createTestTopology({ partitions: 6 });
    const dataset = topology.datasets[0]!.name;
    const expected: Record<string, string> = {};
    const events = Array.from({ length: 300 }, (_, i) => {
      expected[`obj-${String(i).padStart(4, '0')}`] = sha256(`body ${i}`);
      return makeUpdate(dataset, `obj-${String(i).padStart(4, '0')}`, v(10_000 + i), `body ${i}`);
    });
    await produceRaw(topology, events);
    await Promise.all(['dc-a', 'dc-c'].map((dc) => startTestConsumer(topology, dc)));
    const first = await startTestConsumer(topology, 'dc-b', { SHARDSYNC_CONSUMER_CONCURRENCY: '2' });
    await waitFor(async () => ((first.metrics.applied.get().then((m) => m.values.reduce((s, x) => s + x.value, 0))).then((n) => (n > 20 ? n : undefined))), { what: 'dc-b to start applying' });
    const second = await startTestConsumer(topology, 'dc-b', { SHARDSYNC_CONSUMER_CONCURRENCY: '2' });
    await converged(topology, dataset, sortKeys(expected), 120_000);
    await waitFor(() => (first.assignedPartitions().length > 0 && second.assignedPartitions().length > 0 ? true : undefined), { what: 'both instances to own partitions' });
    const all = [...first.assignedPartitions(), ...second.assignedPartitions()].sort((a, b) => a - b);
    expect(all).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
