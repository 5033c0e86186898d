import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import type { Topology } from '@shardsync/config';
import { createLogger, type ReadinessReport } from '@shardsync/runtime';
import { createTestTopology, emptyAndDeleteBucket, freePort, rawS3Client, readTopic, spawnService, stopStackServer, testKafka, waitFor } from '@shardsync/testing';
import { consumerEnvSchema } from '../src/env.js';
import { ConsumerService, groupIdOf } from '../src/service.js';
import { makeUpdate, produceRaw, sha256, storeContents } from './helpers.js';

const v = (physicalMs: number) => ({ physicalMs, logical: 0, producerId: 'p1' });

/** A consumer in this process, with a logger the test can watch; closed when the test ends. */
function startConsumer(topology: Topology, datacenter: string, overrides: Record<string, string> = {}) {
  const env = consumerEnvSchema.parse({ SHARDSYNC_DATACENTER: datacenter, SHARDSYNC_CONSUMER_PORT: '0', SHARDSYNC_SOURCE_WAIT_MS: '5000', ...overrides });
  const logger = createLogger('consumer-test', { datacenter }, 'warn');
  const starting = ConsumerService.start({ topology, env, logger, onFatal: () => undefined });
  onTestFinished(async () => {
    await (await starting.catch(() => undefined))?.close();
  });
  return { starting, logger };
}

function bucketOf(topology: Topology, datacenter: string): string {
  return topology.datacenters.find((d) => d.name === datacenter)?.s3.bucket ?? '';
}

/** Deletes a datacenter's bucket behind shardsync's back; it exists again when the test ends (for the topology's own cleanup). */
async function deleteBucket(topology: Topology, datacenter: string): Promise<() => Promise<void>> {
  const s3 = rawS3Client(datacenter);
  const bucket = bucketOf(topology, datacenter);
  await emptyAndDeleteBucket(s3, bucket);
  let created = false;
  const create = async () => {
    if (created) return;
    created = true;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  };
  onTestFinished(create);
  return create;
}

async function readyz(url: string): Promise<{ status: number; body: ReadinessReport }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as ReadinessReport };
}

/** The value of `shardsync_consumer_offset_lag_events{partition}` as /metrics serves it, if any. */
async function offsetLag(url: string, partition: number): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = new RegExp(`^shardsync_consumer_offset_lag_events\\{partition="${partition}"\\} (\\d+)$`, 'm').exec(text);
  return line === null ? undefined : Number(line[1]);
}


describe('consumer operations', () => {
  it('offset lag is the latest offset minus the committed offset, and grows while no batch completes', async () => {
    const topology = await createTestTopology({ partitions: 1 });
    const dataset = topology.datasets[0]!.name;
    const { starting } = startConsumer(topology, 'dc-b');
    const consumer = await starting;
    await produceRaw(topology, [makeUpdate(dataset, 'a', v(1000), 'a'), makeUpdate(dataset, 'b', v(1001), 'b')]);
    await waitFor(async () => (Object.keys(await storeContents(topology, 'dc-b', dataset)).length === 2 && (await offsetLag(consumer.url, 0)) === 0 ? true : undefined), {
      what: 'dc-b to apply and commit the first events',
    });

    // The partition cannot finish its batch (no bucket): events wait, nothing is committed.
    const recreate = await deleteBucket(topology, 'dc-b');
    await produceRaw(topology, [1, 2, 3].map((i) => makeUpdate(dataset, `c-${i}`, v(2000 + i), `c ${i}`)));
    await waitFor(async () => ((await offsetLag(consumer.url, 0)) === 3 ? true : undefined), { what: 'the gauge to count the 3 waiting events' });

    await recreate();
    await waitFor(async () => (Object.keys(await storeContents(topology, 'dc-b', dataset)).length === 3 && (await offsetLag(consumer.url, 0)) === 0 ? true : undefined), {
      what: 'dc-b to apply and commit the waiting events',
    });
  });

  it('logs an error at start when the updates topic keeps events at least as long as tombstones live, and none when it does not', async () => {
    const topology = await createTestTopology({ partitions: 1 });
    const message = expect.stringContaining('the updates topic keeps events at least as long as tombstones live') as string;
    // The test topics keep events a day: a one-minute grace is too short for them, the default week is not.
    for (const [grace, logged] of [['60000', true], [undefined, false]] as const) {
      const { starting, logger } = startConsumer(topology, 'dc-b', grace === undefined ? {} : { SHARDSYNC_TOMBSTONE_GRACE_MS: grace });
      const errors = vi.spyOn(logger, 'error');
      await (await starting).close();
      const lines = errors.mock.calls.map((call) => call[1]);
      if (logged) expect(lines).toContainEqual(message);
      else expect(lines).not.toContainEqual(message);
    }
  });

  it('a missing bucket is waited for, never dead-lettered: /readyz and the log name it, and the events apply once it exists', async () => {
    const topology = await createTestTopology({ partitions: 1 });
    const dataset = topology.datasets[0]!.name;
    const bucket = bucketOf(topology, 'dc-b');
    const { starting, logger } = startConsumer(topology, 'dc-b');
    const errors = vi.spyOn(logger, 'error');
    const consumer = await starting;
    const recreate = await deleteBucket(topology, 'dc-b');
    const events = [1, 2, 3].map((i) => makeUpdate(dataset, `k-${i}`, v(1000 + i), `body ${i}`));
    await produceRaw(topology, events);

    const retried = async () => (await consumer.metrics.retries.get()).values.find((x) => x.labels.code === 'SHARDSYNC_NO_SUCH_BUCKET')?.value ?? 0;
    await waitFor(async () => ((await retried()) >= 3 ? true : undefined), { what: 'the applies to be retried' });
    const notReady = await readyz(consumer.url);
    expect(notReady.status).toBe(503);
    expect(notReady.body.checks['store:dc-b']?.ok).toBe(false);
    expect(notReady.body.checks['store:dc-b']?.error).toContain(`bucket "${bucket}" of datacenter dc-b does not exist`);
    const logged = errors.mock.calls.map((call) => call[1]);
    expect(logged).toContainEqual(expect.stringContaining(`bucket "${bucket}" of datacenter dc-b does not exist`));
    expect((await consumer.metrics.deadLettered.get()).values.reduce((s, x) => s + x.value, 0)).toBe(0);

    await recreate();
    await waitFor(async () => (Object.keys(await storeContents(topology, 'dc-b', dataset)).length === 3 ? true : undefined), { what: 'dc-b to apply the waiting events' });
    expect(await storeContents(topology, 'dc-b', dataset)).toEqual({ 'k-1': sha256('body 1'), 'k-2': sha256('body 2'), 'k-3': sha256('body 3') });
    await waitFor(async () => ((await readyz(consumer.url)).status === 200 ? true : undefined), { what: '/readyz to answer 200' });
    expect(await readTopic(topology.kafka.topics.deadLetters)).toEqual([]);
  });

  it('/readyz answers 503 with the reason until the consumer has joined its group', async () => {
    const topology = await createTestTopology({ partitions: 1 });
    const dataset = topology.datasets[0]!.name;
    await produceRaw(topology, [makeUpdate(dataset, 'k', v(1000), 'body')]);

    // Another member of the group sits in a batch: the group cannot rebalance, so nobody can join
    // it until that member lets go (or its 30 s session expires).
    let letGo: () => void = () => undefined;
    const holding = new Promise<void>((resolve) => {
      const held = new Promise<void>((r) => (letGo = r));
      const holder = testKafka('readiness-holder').consumer({ groupId: groupIdOf('dc-b'), sessionTimeout: 30_000 });
      onTestFinished(async () => {
        letGo();
        await holder.disconnect();
      });
      void (async () => {
        await holder.connect();
        await holder.subscribe({ topic: topology.kafka.topics.updates, fromBeginning: true });
        await holder.run({
          eachBatch: async () => {
            resolve();
            await held;
          },
        });
      })();
    });
    await holding;

    const port = await freePort();
    const { starting } = startConsumer(topology, 'dc-b', { SHARDSYNC_CONSUMER_PORT: String(port) });
    const before = await waitFor(() => readyz(`http://127.0.0.1:${port}`), { what: 'the ops server to answer' });
    expect(before.status).toBe(503);
    expect(before.body.checks['consumer-group']).toEqual({ ok: false, error: `has not joined consumer group ${groupIdOf('dc-b')} yet` });
    expect(before.body.checks['kafka']).toEqual({ ok: true });
    expect(before.body.checks['store:dc-b']).toEqual({ ok: true });

    letGo();
    const consumer = await starting;
    const after = await waitFor(async () => {
      const r = await readyz(consumer.url);
      return r.status === 200 ? r : undefined;
    }, { what: '/readyz to answer 200 once joined' });
    expect(after.body.checks['consumer-group']).toEqual({ ok: true });
  });

  it('/readyz answers 503 again once the Kafka consumer crashed, and 200 when it has joined its group again', async () => {
    const topology = await createTestTopology({ partitions: 1 });
    const { starting } = startConsumer(topology, 'dc-b');
    const consumer = await starting;
    await waitFor(async () => ((await readyz(consumer.url)).status === 200 ? true : undefined), { what: '/readyz to answer 200' });

    const restart = await stopStackServer('kafka');
    const crashed = await waitFor(
      async () => {
        const r = await readyz(consumer.url);
        return r.body.checks['consumer-group']?.ok === false ? r : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500, what: 'the consumer-group check to fail' },
    );
    expect(crashed.status).toBe(503);
    expect(crashed.body.checks['consumer-group']?.error).toMatch(new RegExp(`^the Kafka consumer of group ${groupIdOf('dc-b')} crashed \\(.+\\); it is restarting and will join again$`));

    await restart();
    const rejoined = await waitFor(
      async () => {
        const r = await readyz(consumer.url);
        return r.status === 200 ? r : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: '/readyz to answer 200 again' },
    );
    expect(rejoined.body.checks['consumer-group']).toEqual({ ok: true });
  });

  it('with SHARDSYNC_CONSUMER_EXIT_ON_STALL=false, /healthz and shardsync_consumer_stalled go back to healthy once progress resumes', async () => {
    const topology = await createTestTopology({ partitions: 1 });
    const dataset = topology.datasets[0]!.name;
    // No bucket: the index load's retries soon wait longer than the 1 s stall allowance.
    const recreate = await deleteBucket(topology, 'dc-b');
    await produceRaw(topology, [makeUpdate(dataset, 'k', v(1000), 'body')]);
    const { starting } = startConsumer(topology, 'dc-b', { SHARDSYNC_CONSUMER_STALL_MS: '1000', SHARDSYNC_CONSUMER_EXIT_ON_STALL: 'false' });
    const consumer = await starting;
    const stalledGauge = async () => /^shardsync_consumer_stalled (\d+)$/m.exec(await (await fetch(`${consumer.url}/metrics`)).text())?.[1];
    await waitFor(async () => ((await fetch(`${consumer.url}/healthz`)).status === 503 && (await stalledGauge()) === '1' ? true : undefined), {
      timeoutMs: 60_000,
      what: 'the watchdog to see the stall',
    });

    await recreate();
    await waitFor(async () => ((await storeContents(topology, 'dc-b', dataset))['k'] !== undefined ? true : undefined), { timeoutMs: 60_000, what: 'the event to apply' });
    await waitFor(async () => ((await fetch(`${consumer.url}/healthz`)).status === 200 ? true : undefined), { what: '/healthz to answer 200 again' });
    expect(await stalledGauge()).toBe('0');
  });

  it('a batch waiting longer than the session timeout for its tombstone index keeps its membership', async () => {
    const topology = await createTestTopology({ partitions: 1 });
    const dataset = topology.datasets[0]!.name;
    await produceRaw(topology, [makeUpdate(dataset, 'k', v(1000), 'body')]);
    // The index cannot load while the store is down: the batch waits for it, past the 30 s session.
    const restart = await stopStackServer('dc-b');
    onTestFinished(restart);
    const env = consumerEnvSchema.parse({ SHARDSYNC_DATACENTER: 'dc-b', SHARDSYNC_CONSUMER_PORT: '0' });
    const logger = createLogger('consumer-test', { datacenter: 'dc-b' }, 'warn');
    // Calls are recorded whatever the level writes.
    const info = vi.spyOn(logger, 'info');
    const assignments = () => info.mock.calls.filter((c) => c[1] === 'partitions assigned').length;
    const consumer = await ConsumerService.start({ topology, env, logger, onFatal: () => undefined });
    onTestFinished(() => consumer.close());
    await waitFor(() => (assignments() === 1 ? true : undefined), { what: 'the partition to be assigned' });
    await new Promise((r) => setTimeout(r, 40_000));

    await restart();
    await waitFor(async () => ((await storeContents(topology, 'dc-b', dataset))['k'] !== undefined ? true : undefined), { timeoutMs: 60_000, what: 'the event to apply' });
    // A member whose session expired meanwhile learns it at its next heartbeat and joins again.
    await new Promise((r) => setTimeout(r, 8000));
    expect(assignments()).toBe(1);
  }, 150_000);

  // That no line is lost on a congested stdout is shown by test/fatal-exit-process.test.ts; this is the consumer's own path to it.
  it('a consumer that gives up logs why, after naming the missing bucket, and exits 1', async () => {
    const topology = await createTestTopology({ partitions: 1 });
    const dataset = topology.datasets[0]!.name;
    const bucket = bucketOf(topology, 'dc-b');
    // Events wait and no bucket to apply them to: the watchdog gives up after 3 s.
    await deleteBucket(topology, 'dc-b');
    await produceRaw(topology, [makeUpdate(dataset, 'k', v(1000), 'body')]);

    const { child, exited } = spawnService('consumer', topology, { SHARDSYNC_DATACENTER: 'dc-b', SHARDSYNC_CONSUMER_PORT: '0', SHARDSYNC_LOG_LEVEL: 'warn', SHARDSYNC_CONSUMER_STALL_MS: '3000' }, ['ignore', 'pipe', 'inherit']);
    const out = child.stdout;
    if (out === null) throw new Error('the consumer\'s stdout is piped');
    let stdout = '';
    out.setEncoding('utf8');
    out.on('data', (chunk: string) => (stdout += chunk));
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 60_000).unref())]);
    await new Promise<void>((resolve) => (out.readableEnded ? resolve() : out.once('end', resolve)));

    expect(code).toBe(1);
    const lines = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; reason?: string; bucket?: string; datacenter?: string });
    const bucketLine = lines.find((l) => l.bucket === bucket);
    expect(bucketLine?.level).toBe(50);
    expect(bucketLine?.msg).toContain(`bucket "${bucket}" of datacenter dc-b does not exist`);
    expect(lines).toContainEqual(expect.objectContaining({ level: 50, msg: 'watchdog: no progress while events are waiting' }));
    expect(lines).toContainEqual(expect.objectContaining({ level: 60, reason: 'watchdog: consumer stalled', msg: 'exiting so that a supervisor restarts the consumer', datacenter: 'dc-b' }));
  });
});
