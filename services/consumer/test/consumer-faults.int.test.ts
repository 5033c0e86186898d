import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { Topology } from '@shardsync/config';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { decodeShardUpdate, encodeShardUpdate } from '@shardsync/events';
import { readDeadLetter } from '@shardsync/eventlog';
import { corruptObjectOnDisk, createTestTopology, rawS3Client, readTopic, spawnService, stopStackServer, waitFor } from '@shardsync/testing';
import { makeUpdate, produceRaw, sha256, startTestConsumer, storeContents, storeKeyCount } from './helpers.js';

const v = (physicalMs: number) => ({ physicalMs, logical: 0, producerId: 'p1' });

/** Runs the real consumer entry point as a child process, as a supervisor would. */
function spawnConsumer(topology: Topology, datacenter: string): ChildProcess {
  return spawnService('consumer', topology, { SHARDSYNC_DATACENTER: datacenter, SHARDSYNC_CONSUMER_PORT: '0', SHARDSYNC_LOG_LEVEL: 'warn', SHARDSYNC_CONSUMER_CONCURRENCY: '4' }).child;
}

async function holds(topology: Topology, dc: string, dataset: string, expected: Record<string, string>, timeoutMs = 90_000): Promise<void> {
  const want = JSON.stringify(Object.entries(expected).sort());
  await waitFor(async () => (JSON.stringify(Object.entries(await storeContents(topology, dc, dataset)).sort()) === want ? true : undefined), {
    timeoutMs,
    intervalMs: 300,
    what: `${dc} to hold exactly the expected objects`,
  });
}

describe('consumer under faults', () => {
  it('a consumer killed with SIGKILL in the middle of a batch and restarted loses nothing', async () => {
    const topology = await createTestTopology({ partitions: 2 });
    const dataset = topology.datasets[0]!.name;
    const expected: Record<string, string> = {};
    const events = Array.from({ length: 400 }, (_, i) => {
      const key = `k-${String(i).padStart(4, '0')}`;
      expected[key] = sha256(`payload ${i}`);
      return makeUpdate(dataset, key, v(20_000 + i), `payload ${i}`);
    });
    await produceRaw(topology, events);
    const first = spawnConsumer(topology, 'dc-b');
    // Probed by listing only: reading every object back would take long enough for the consumer to finish meanwhile.
    await waitFor(async () => {
      const n = await storeKeyCount(topology, 'dc-b', dataset);
      return n >= 40 && n < 400 ? n : undefined;
    }, { timeoutMs: 60_000, intervalMs: 50, what: 'dc-b to be part-way through' });
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    spawnConsumer(topology, 'dc-b');
    await holds(topology, 'dc-b', dataset, expected);
  });

  it("one datacenter's S3 server stopped for 30 s: it catches up afterwards and the others are not held back", async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]!.name;
    await Promise.all(['dc-a', 'dc-b', 'dc-c'].map((dc) => startTestConsumer(topology, dc)));
    await produceRaw(topology, [makeUpdate(dataset, 'before', v(1000), 'before')]);
    await holds(topology, 'dc-b', dataset, { before: sha256('before') });

    const restart = await stopStackServer('dc-b');
    const outageStart = Date.now();
    const expected: Record<string, string> = { before: sha256('before') };
    const during = Array.from({ length: 50 }, (_, i) => {
      expected[`during-${i}`] = sha256(`during ${i}`);
      return makeUpdate(dataset, `during-${i}`, v(2000 + i), `during ${i}`);
    });
    await produceRaw(topology, during);
    await holds(topology, 'dc-a', dataset, expected, 25_000);
    await holds(topology, 'dc-c', dataset, expected, 25_000);
    // The others were complete while dc-b was still down.
    expect(Date.now() - outageStart).toBeLessThan(30_000);
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - outageStart))));
    await restart();
    await holds(topology, 'dc-b', dataset, expected, 120_000);
  });

  it("an event waiting for its payload's source gives its partition back: the datacenter's other partitions go on meanwhile", async () => {
    const topology = await createTestTopology({ partitions: 4 });
    const dataset = topology.datasets[0]!.name;
    const bucket = topology.datacenters.find((d) => d.name === 'dc-a')!.s3.bucket;
    const body = Buffer.alloc(200_000, 3);
    const stagingKey = `.shardsync/staging/${sha256(body)}`;
    const placeholder = makeUpdate(dataset, 'waiting.bin', v(1000), 'placeholder');
    const decoded = decodeShardUpdate(placeholder.value, placeholder.headers);
    if (decoded.operation !== 'PUT') throw new Error('expected a put');
    // Staged in dc-a, but not there yet (as if the origin's store were unreachable).
    const waiting = encodeShardUpdate({ ...decoded, size: body.length, sha256: sha256(body), payload: { kind: 'staged', datacenter: 'dc-a', bucket, key: stagingKey } });
    const consumer = await startTestConsumer(topology, 'dc-b', { SHARDSYNC_SOURCE_WAIT_MS: '600000' });
    await produceRaw(topology, [{ key: placeholder.key, ...waiting }]);
    await waitFor(async () => (/shardsync_consumer_apply_retries_total\{code="SHARDSYNC_SOURCE_UNAVAILABLE"\} [4-9]/.test(await (await fetch(`${consumer.url}/metrics`)).text()) ? true : undefined), {
      timeoutMs: 60_000,
      what: 'the consumer retrying the waiting event beyond its first retries',
    });
    // Spread over the partitions by their keys; fetched after the waiting event.
    const others = Array.from({ length: 12 }, (_, i) => `other-${i}.txt`);
    await produceRaw(topology, others.map((key, i) => makeUpdate(dataset, key, v(2000 + i), `body ${key}`)));
    const expected = Object.fromEntries(others.map((key) => [key, sha256(`body ${key}`)]));
    // Well within the source wait (10 min): before, a waiting event held every partition of the instance.
    await holds(topology, 'dc-b', dataset, expected, 30_000);
    // The source becomes readable: the waiting event is applied when its partition is fetched again.
    await rawS3Client('dc-a').send(new PutObjectCommand({ Bucket: bucket, Key: stagingKey, Body: body }));
    await holds(topology, 'dc-b', dataset, { ...expected, 'waiting.bin': sha256(body) }, 60_000);
    expect(consumer.fatal).toEqual([]);
  });

  it('a staged payload corrupted after its event was emitted is never made visible', async () => {
    const topology = await createTestTopology({ partitions: 1 });
    const dataset = topology.datasets[0]!.name;
    const bucket = topology.datacenters.find((d) => d.name === 'dc-a')!.s3.bucket;
    // Stage a body by hand the way the producer does, then corrupt it on dc-a's disk.
    const body = Buffer.alloc(300_000, 7);
    const stagingKey = `.shardsync/staging/${sha256(body)}`;
    await rawS3Client('dc-a').send(new PutObjectCommand({ Bucket: bucket, Key: stagingKey, Body: body }));
    await corruptObjectOnDisk('dc-a', bucket, stagingKey, 1234);
    const update = makeUpdate(dataset, 'shard.bin', v(1000), 'placeholder');
    const decoded = decodeShardUpdate(update.value, update.headers);
    if (decoded.operation !== 'PUT') throw new Error('expected a put');
    const staged = encodeShardUpdate({ ...decoded, size: body.length, sha256: sha256(body), payload: { kind: 'staged', datacenter: 'dc-a', bucket, key: stagingKey } });
    await produceRaw(topology, [{ key: update.key, ...staged }, makeUpdate(dataset, 'after.txt', v(2000), 'after')]);
    // No datacenter holds good bytes: the short wait for a source with other bytes ends it, not
    // the (here unreachably long) wait for a source that cannot be read.
    await Promise.all(['dc-a', 'dc-b', 'dc-c'].map((dc) => startTestConsumer(topology, dc, { SHARDSYNC_SOURCE_WAIT_MS: '600000', SHARDSYNC_SOURCE_MISMATCH_WAIT_MS: '2000' })));
    for (const dc of ['dc-a', 'dc-b', 'dc-c']) await holds(topology, dc, dataset, { 'after.txt': sha256('after') });
    const letters = await waitFor(async () => {
      const msgs = await readTopic(topology.kafka.topics.deadLetters);
      return msgs.length >= 3 ? msgs : undefined;
    }, { what: 'the corrupt event dead-lettered by every datacenter' });
    expect(new Set(letters.map((m) => readDeadLetter(m.headers)?.datacenter))).toEqual(new Set(['dc-a', 'dc-b', 'dc-c']));
    expect(new Set(letters.map((m) => readDeadLetter(m.headers)?.code))).toEqual(new Set(['SHARDSYNC_SOURCE_BYTES_MISMATCH']));
    for (const dc of ['dc-a', 'dc-b', 'dc-c']) expect(await storeContents(topology, dc, dataset)).toEqual({ 'after.txt': sha256('after') });
  });
});
