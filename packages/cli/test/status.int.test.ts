import { createTestTopology, testAdmin, testKafka, waitFor } from '@shardsync/testing';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ReconcileResult, StatusReport } from '../src/index.js';
import { consumerGroupOf } from '../src/index.js';
import { cli, writeTopology } from './helpers.js';
import { cliJson, deadLetterOf, interruptedRun, makeUpdate, produce, silentServer, v, withPassHistory } from './int-helpers.js';

/** A consumer group member that holds its partitions and applies nothing, like a stuck consumer. */
async function idleMember(groupId: string, topic: string): Promise<void> {
  const consumer = testKafka('cli-test-idle').consumer({ groupId });
  await consumer.connect();
  onTestFinished(() => consumer.disconnect());
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async (payload) => void payload.pause() });
}

const DCS = ['dc-a', 'dc-b', 'dc-c'];

describe('shardsync status', () => {
  it('is healthy when every datacenter has a consumer, nothing lags, no letter waits and the stores answer', async () => {
    const topology = await createTestTopology();
    for (const dc of DCS) await idleMember(consumerGroupOf(dc), topology.kafka.topics.updates);
    const run = await waitFor(
      async () => {
        const r = await cliJson<StatusReport>(topology, ['status']);
        return r.json.datacenters.every((d) => d.consumers > 0) ? r : undefined;
      },
      { what: 'a consumer in every datacenter to be seen' },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.json.healthy).toBe(true);
    expect(run.json.datacenters.map((d) => [d.datacenter, d.lag, d.noConsumers, d.store.ok])).toEqual([
      ['dc-a', 0, false, true],
      ['dc-b', 0, false, true],
      ['dc-c', 0, false, true],
    ]);
  });

  it('flags a datacenter without consumers even when nothing lags, and exits 1', async () => {
    const topology = await createTestTopology();
    for (const dc of ['dc-a', 'dc-b']) await idleMember(consumerGroupOf(dc), topology.kafka.topics.updates);
    const run = await waitFor(
      async () => {
        const r = await cliJson<StatusReport>(topology, ['status']);
        return r.json.datacenters[0]?.consumers === 1 && r.json.datacenters[1]?.consumers === 1 ? r : undefined;
      },
      { what: 'the consumers of dc-a and dc-b to be seen' },
    );
    expect(run.code).toBe(1);
    expect(run.json.healthy).toBe(false);
    expect(run.json.datacenters[2]).toMatchObject({ datacenter: 'dc-c', lag: 0, consumers: 0, noConsumers: true });
    expect(run.json.problems).toHaveLength(1);
    expect(run.json.problems[0]).toMatch(/^dc-c: no consumer is running \(group shardsync\.dc\.dc-c (does not exist|is Empty)\); nothing waits yet, but new updates will not be applied there$/);

    const text = await cli(['status', '--topology', writeTopology(topology)]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^dc-c +none running +0 +0 +- +ok$/m);
    expect(text.stdout).toMatch(/^dc-a +1 +0 +0 +- +ok$/m);
  });

  it('reports lag in events and age per datacenter, consumers, dead letters and the last pass, and exits 1 on problems', async () => {
    const topology = await createTestTopology({ partitions: 3 });
    const dataset = topology.datasets[0]?.name ?? '';
    const topic = topology.kafka.topics.updates;
    const producedAtMs = Date.now() - 60_000;
    const events = ['a', 'b', 'c', 'd', 'e', 'f'].map((k, i) => makeUpdate(dataset, k, v(1000 + i), `body ${k}`, producedAtMs + i));
    await produce(topology, topic, events);
    // dc-a applied everything; dc-b has a consumer that is stuck; dc-c has none.
    const admin = await testAdmin();
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.setOffsets({ groupId: consumerGroupOf('dc-a'), topic, partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })) });
    await idleMember(consumerGroupOf('dc-b'), topic);
    await produce(topology, topology.kafka.topics.deadLetters, [
      deadLetterOf(topology, events[0] ?? makeUpdate(dataset, 'x', v(1), 'x'), { partition: 0, offset: '0' }, { datacenter: 'dc-c', code: 'SHARDSYNC_X', message: 'x' }),
    ]);
    // A pass run through the CLI is recorded where the reconciler records its passes.
    const env = withPassHistory(dataset);
    const pass = await cliJson<ReconcileResult>(topology, ['reconcile', '--dataset', dataset], env);
    expect(pass.code, pass.stderr).toBe(0);

    const run = await waitFor(
      async () => {
        const r = await cliJson<StatusReport>(topology, ['status'], env);
        return r.json.datacenters[1]?.consumers === 1 ? r : undefined;
      },
      { what: 'the idle member of dc-b to be seen' },
    );
    expect(run.code).toBe(1);
    const [a, b, c] = run.json.datacenters;
    expect(a).toMatchObject({ datacenter: 'dc-a', lag: 0, oldestUnapplied: null, noConsumers: true });
    expect(b).toMatchObject({ datacenter: 'dc-b', lag: 6, consumers: 1, groupState: 'Stable', noConsumers: false });
    expect(c).toMatchObject({ datacenter: 'dc-c', lag: 6, consumers: 0, noConsumers: true });
    // The oldest unapplied event of dc-c was produced a minute ago.
    expect(c?.oldestUnapplied?.producedAt).toBe(new Date(producedAtMs).toISOString());
    expect(c?.oldestUnapplied?.ageMs).toBeGreaterThanOrEqual(60_000);
    expect(c?.oldestUnapplied?.ageMs).toBeLessThan(120_000);
    expect(run.json.deadLetters).toMatchObject({ depth: 1, pending: 1, discarded: 0 });
    expect(run.json.lastPasses).toMatchObject({ available: true });
    const last = run.json.lastPasses.available ? run.json.lastPasses.passes.find((p) => p.dataset === dataset) : undefined;
    expect(last?.summary).toMatchObject({ converged: true, dryRun: false, passId: pass.json.passes[0]?.passId });
    // Group names are per datacenter, so on a reused stack dc-c's group may exist (Empty) from earlier runs.
    expect(run.json.problems).toHaveLength(3);
    expect(run.json.problems[0]).toMatch(/^dc-a: no consumer is running \(group shardsync\.dc\.dc-a (does not exist|is Empty)\); nothing waits yet/);
    expect(run.json.problems[1]).toMatch(/^dc-c: 6 event\(s\) wait and no consumer is running \(group shardsync\.dc\.dc-c (does not exist|is Empty)\)$/);
    expect(run.json.problems[2]).toBe('1 dead letter(s) not replayed; inspect them with: shardsync dlq list, then replay or discard them');

    const limits = await cliJson<StatusReport>(topology, ['status', '--max-lag', '5', '--no-age'], env);
    expect(limits.json.datacenters.every((d) => d.oldestUnapplied === null)).toBe(true);
    expect(limits.json.problems).toContain('dc-b: lag 6 is above --max-lag 5');
  });

  it('reports an unreachable store and an unreachable Redis without failing', async () => {
    const topology = await createTestTopology();
    // Through the environment too: a SHARDSYNC_REDIS_URL set for the test run would override the file.
    const env = { ...process.env, SHARDSYNC_DC_DC_B_S3_ENDPOINT: 'http://127.0.0.1:1', SHARDSYNC_REDIS_URL: 'redis://127.0.0.1:1' };
    const broken = { ...topology, redis: { url: 'redis://127.0.0.1:1' } };
    const run = await cliJson<StatusReport>(broken, ['status'], env);
    expect(run.code).toBe(1);
    expect(run.json.datacenters[1]?.store).toMatchObject({ ok: false, code: 'SHARDSYNC_STORE_UNAVAILABLE' });
    expect(run.json.lastPasses).toMatchObject({ available: false });
    expect(run.json.problems).toContainEqual(expect.stringMatching(/^dc-b: the store does not answer/));
    // Without the pass history status cannot say the datacenters agree: a problem, naming the Redis it asked.
    expect(run.json.problems).toContainEqual(expect.stringMatching(/^the last reconcile passes could not be read: Redis at redis:\/\/127\.0\.0\.1:1\/?: /));
  });

  it('stops at once when interrupted (Ctrl-C) while it waits on a broker and a store that do not answer, and says it was interrupted', async () => {
    const topology = await createTestTopology();
    const silent = await silentServer();
    // The stack's broker and dc-c endpoint come from the environment, which would override the topology.
    const env = { ...process.env, SHARDSYNC_KAFKA_BROKERS: silent, SHARDSYNC_DC_DC_C_S3_ENDPOINT: `http://${silent}` };
    const hanging = { ...topology, kafka: { ...topology.kafka, brokers: [silent] } };
    const run = await interruptedRun(hanging, ['status'], 500, env);
    expect(run.json).toMatchObject({ error: 'SHARDSYNC_CLI_INTERRUPTED', retriable: true });
    expect(run.code).toBe(2);
    // Without the interruption it would wait out kafkajs's request timeout (30 s) and its retries.
    expect(run.stoppedAfterMs).toBeLessThan(2000);
  });
});

describe('shardsync status, a group behind retention', () => {
  it('counts as lag only the retained events a group has not applied, not those retention removed before it got to them', async () => {
    const topology = await createTestTopology({ partitions: 1 });
    const dataset = topology.datasets[0]?.name ?? '';
    const topic = topology.kafka.topics.updates;
    await produce(topology, topic, ['a', 'b', 'c', 'd'].map((k, i) => makeUpdate(dataset, k, v(1000 + i), `body ${k}`)));
    const admin = await testAdmin();
    // dc-c applied nothing, then retention removed the first three events; its consumers resume at the fourth.
    await admin.setOffsets({ groupId: consumerGroupOf('dc-c'), topic, partitions: [{ partition: 0, offset: '0' }] });
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '3' }] });

    const run = await cliJson<StatusReport>(topology, ['status', '--no-age'], withPassHistory(dataset));
    expect(run.json.datacenters[2]).toMatchObject({ datacenter: 'dc-c', lag: 1, laggingPartitions: 1 });
    expect(run.json.problems).toContainEqual(expect.stringMatching(/^dc-c: 1 event\(s\) wait and no consumer is running/));

    // Everything it missed is gone: nothing waits, and there is no unapplied event to wait for.
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '4' }] });
    const started = Date.now();
    const gone = await cliJson<StatusReport>(topology, ['status'], withPassHistory(dataset));
    expect(gone.json.datacenters[2]).toMatchObject({ datacenter: 'dc-c', lag: 0, laggingPartitions: 0, oldestUnapplied: null });
    expect(Date.now() - started).toBeLessThan(8000);
  });
});

describe('shardsync status --max-age', () => {
  it('is not healthy when events wait and their age, which --max-age asks about, could not be read in time', async () => {
    const topology = await createTestTopology({ partitions: 1 });
    const dataset = topology.datasets[0]?.name ?? '';
    const topic = topology.kafka.topics.updates;
    await produce(topology, topic, ['a', 'b'].map((k, i) => makeUpdate(dataset, k, v(1000 + i), `body ${k}`, Date.now() - 600_000)));
    for (const dc of DCS) await idleMember(consumerGroupOf(dc), topic);
    const env = withPassHistory(dataset);
    await waitFor(async () => (await cliJson<StatusReport>(topology, ['status', '--no-age'], env)).json.datacenters.every((d) => d.consumers > 0) || undefined, {
      what: 'a consumer in every datacenter to be seen',
    });

    // Ten minutes old, so above --max-age 1min; but no time is left to read how old.
    const run = await cliJson<StatusReport>(topology, ['status', '--max-age', '1min', '--age-timeout', '1ms'], env);
    expect(run.json.datacenters.map((d) => [d.lag, d.oldestUnapplied])).toEqual([
      [2, null],
      [2, null],
      [2, null],
    ]);
    expect(run.code).toBe(1);
    expect(run.json.healthy).toBe(false);
    expect(run.json.problems).toContainEqual(expect.stringMatching(/^dc-a: the age of the oldest unapplied event could not be read/));
  });
});
