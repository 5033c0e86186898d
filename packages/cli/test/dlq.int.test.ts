import { toDeadLetter, withoutValue } from '@shardsync/eventlog';
import { createTestTopology, readTopic, testAdmin, testKafka, waitFor } from '@shardsync/testing';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { DlqDiscardReport, DlqListReport, DlqReplayReport, StatusReport } from '../src/index.js';
import { DLQ_REPLAY_GROUP, runCli } from '../src/index.js';
import { cli, writeTopology } from './helpers.js';
import { cliJson, deadLetterOf, interruptedRun, makeUpdate, produce, silentServer, v } from './int-helpers.js';

async function withDeadLetters() {
  const topology = await createTestTopology();
  const dataset = topology.datasets[0]?.name ?? '';
  // Recent versions: puts older than the tombstone grace period are not replayed (see below).
  const now = Date.now();
  const e1 = makeUpdate(dataset, 'a.bin', v(now - 2000), 'one');
  const e2 = makeUpdate(dataset, 'b.bin', v(now - 1000), 'two');
  const unknownSchema = { code: 'SHARDSYNC_UNKNOWN_SCHEMA', message: 'event was written with unknown schema 1234' };
  await produce(topology, topology.kafka.topics.deadLetters, [
    deadLetterOf(topology, e1, { partition: 0, offset: '10' }, { datacenter: 'dc-a', ...unknownSchema }),
    deadLetterOf(topology, e1, { partition: 0, offset: '10' }, { datacenter: 'dc-b', ...unknownSchema }),
    deadLetterOf(topology, e2, { partition: 1, offset: '4' }, { datacenter: 'dc-b', code: 'SHARDSYNC_SOURCE_UNAVAILABLE', message: 'the staged payload is gone' }),
    deadLetterOf(topology, e1, { partition: 0, offset: '10' }, { datacenter: 'dc-c', ...unknownSchema }),
    { key: 'junk', value: Buffer.from('not a dead letter') },
  ]);
  return { topology, dataset, e1, e2 };
}

describe('shardsync dlq', () => {
  it('lists dead letters from the beginning with their origin, datacenter, code and message, committing nothing', async () => {
    const { topology, dataset } = await withDeadLetters();

    const all = await cliJson<DlqListReport>(topology, ['dlq', 'list']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.json).toMatchObject({ depth: 5, pending: 5, truncated: false });
    expect(all.json.letters.map((l) => [l.offset, l.key, l.deadLetter?.datacenter, l.deadLetter?.code, l.replayed])).toEqual([
      ['0', `${dataset}/a.bin`, 'dc-a', 'SHARDSYNC_UNKNOWN_SCHEMA', false],
      ['1', `${dataset}/a.bin`, 'dc-b', 'SHARDSYNC_UNKNOWN_SCHEMA', false],
      ['2', `${dataset}/b.bin`, 'dc-b', 'SHARDSYNC_SOURCE_UNAVAILABLE', false],
      ['3', `${dataset}/a.bin`, 'dc-c', 'SHARDSYNC_UNKNOWN_SCHEMA', false],
      ['4', 'junk', undefined, undefined, false],
    ]);
    expect(all.json.letters[2]?.deadLetter).toMatchObject({ originalTopic: topology.kafka.topics.updates, originalPartition: 1, originalOffset: '4', message: 'the staged payload is gone' });

    const limited = await cliJson<DlqListReport>(topology, ['dlq', 'list', '--limit', '2']);
    expect(limited.json.letters).toHaveLength(2);
    expect(limited.json.truncated).toBe(true);

    const dcB = await cliJson<DlqListReport>(topology, ['dlq', 'list', '--datacenter', 'dc-b']);
    expect(dcB.json.letters.map((l) => l.offset)).toEqual(['1', '2']);

    // Listing committed nothing: every letter is still pending, none reads as replayed.
    const again = await cliJson<DlqListReport>(topology, ['dlq', 'list']);
    expect(again.json).toMatchObject({ depth: 5, pending: 5, discarded: 0 });
    expect(again.json.letters.map((l) => l.replayed)).toEqual([false, false, false, false, false]);
  });

  it('leaves puts older than the tombstone grace period pending with a warning, since a delete since may have expired; deletes of any age are replayed', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const day = 24 * 3600 * 1000;
    const now = Date.now();
    const oldPut = makeUpdate(dataset, 'old.bin', v(now - 10 * day), 'old');
    const oldDelete = makeUpdate(dataset, 'gone.bin', v(now - 10 * day), null);
    const recentPut = makeUpdate(dataset, 'new.bin', v(now - 1000), 'new');
    const reason = { datacenter: 'dc-b', code: 'SHARDSYNC_SOURCE_UNAVAILABLE', message: 'the staged payload is gone' };
    await produce(topology, topology.kafka.topics.deadLetters, [
      deadLetterOf(topology, oldPut, { partition: 0, offset: '1' }, reason),
      deadLetterOf(topology, oldDelete, { partition: 0, offset: '2' }, reason),
      deadLetterOf(topology, recentPut, { partition: 0, offset: '3' }, reason),
    ]);

    const run = await cli(['dlq', 'replay', '--topology', writeTopology(topology)]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('1 put(s) older than the tombstone grace period (7 days) were not replayed');
    const replayed = await readTopic(topology.kafka.topics.updates);
    expect(replayed.map((m) => m.value?.toString('base64')).sort()).toEqual([oldDelete.value, recentPut.value].map((b) => b.toString('base64')).sort());
    const list = await cliJson<DlqListReport>(topology, ['dlq', 'list']);
    expect(list.json.letters.filter((l) => !l.replayed).map((l) => l.key)).toEqual([`${dataset}/old.bin`]);

    // Seen again by the next run, and replayed once the operator says the grace period is longer.
    expect((await cliJson<DlqReplayReport>(topology, ['dlq', 'replay'])).json).toMatchObject({ replayed: 0, tooOld: 1 });
    expect((await cliJson<DlqReplayReport>(topology, ['dlq', 'replay', '--tombstone-grace', '30d'])).json).toMatchObject({ replayed: 1, tooOld: 0 });
    expect(await readTopic(topology.kafka.topics.updates)).toHaveLength(3);
  });

  it('replays each update once, never the same letter twice, and leaves letters a filter excluded for later', async () => {
    const { topology, e1, e2 } = await withDeadLetters();
    const updates = topology.kafka.topics.updates;

    const dry = await cliJson<DlqReplayReport>(topology, ['dlq', 'replay', '--datacenter', 'dc-b', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json).toMatchObject({ dryRun: true, replayed: 2, notMatching: 2, ignored: 1 });
    expect(await readTopic(updates)).toHaveLength(0);
    expect((await cliJson<DlqListReport>(topology, ['dlq', 'list'])).json.pending).toBe(5);

    const first = await cliJson<DlqReplayReport>(topology, ['dlq', 'replay', '--datacenter', 'dc-b']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.json).toMatchObject({ replayed: 2, duplicates: 0, notMatching: 2, ignored: 1 });
    const sent = await readTopic(updates);
    expect(sent.map((m) => m.value?.toString('base64')).sort()).toEqual([e1.value, e2.value].map((b) => b.toString('base64')).sort());
    for (const m of sent) {
      expect(Object.keys(m.headers).filter((h) => h.startsWith('shardsync-dlq-'))).toEqual([]);
      expect(m.headers['shardsync-schema']).toBe(e1.headers['shardsync-schema']);
    }

    const again = await cliJson<DlqReplayReport>(topology, ['dlq', 'replay', '--datacenter', 'dc-b']);
    expect(again.json.replayed).toBe(0);

    // The rest: e1's letters from dc-a and dc-c are one update, sent once; the junk record was settled already.
    const rest = await cliJson<DlqReplayReport>(topology, ['dlq', 'replay']);
    expect(rest.json).toMatchObject({ scanned: 2, replayed: 1, duplicates: 1, ignored: 0, notMatching: 0 });
    expect(await readTopic(updates)).toHaveLength(3);

    const nothing = await cliJson<DlqReplayReport>(topology, ['dlq', 'replay']);
    expect(nothing.json).toMatchObject({ scanned: 0, replayed: 0 });

    const list = await cliJson<DlqListReport>(topology, ['dlq', 'list']);
    expect(list.json.pending).toBe(0);
    expect(list.json.letters.every((l) => l.replayed)).toBe(true);
  });

  it('replays only the letters with a given code', async () => {
    const { topology } = await withDeadLetters();
    const run = await cliJson<DlqReplayReport>(topology, ['dlq', 'replay', '--code', 'SHARDSYNC_SOURCE_UNAVAILABLE']);
    expect(run.json).toMatchObject({ replayed: 1, notMatching: 3, ignored: 1 });
    expect(run.json.letters.map((l) => l.offset)).toEqual(['2']);
    // Left for later: the three letters of the other code; the record without dead-letter headers is settled.
    expect((await cliJson<DlqListReport>(topology, ['dlq', 'list'])).json.pending).toBe(3);
  });

  it('run again, a replay of a code says how many letters match and that all were replayed, and hints at the spelling only for a code nothing matches', async () => {
    const { topology } = await withDeadLetters();
    const code = 'SHARDSYNC_UNKNOWN_SCHEMA';
    const first = await cliJson<DlqReplayReport>(topology, ['dlq', 'replay', '--code', code]);
    expect(first.json).toMatchObject({ replayed: 1, duplicates: 2 });
    expect(first.json.matching).toBeUndefined();

    const again = await cli(['dlq', 'replay', '--code', code, '--topology', writeTopology(topology)]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`nothing to do: 3 dead letter(s) match code ${code}, all already replayed (3) or discarded (0)`);
    expect(again.stdout).not.toContain('spelling');

    const typo = await cliJson<DlqReplayReport>(topology, ['dlq', 'replay', '--code', 'SHARDSYNC_UNKNOWN_SCHEME']);
    expect(typo.json.matching).toEqual({ letters: 0, pending: 0, replayed: 0, discarded: 0 });
    expect((await cli(['dlq', 'replay', '--code', 'SHARDSYNC_UNKNOWN_SCHEME', '--topology', writeTopology(topology)])).stdout).toContain('check the spelling with: shardsync dlq list');
  });

  it('heads a filtered list with the counts of the letters that match, and the topic totals named as such', async () => {
    const { topology } = await withDeadLetters();
    await cli(['dlq', 'replay', '--datacenter', 'dc-b', '--topology', writeTopology(topology)]);

    const list = await cliJson<DlqListReport>(topology, ['dlq', 'list', '--code', 'SHARDSYNC_UNKNOWN_SCHEMA']);
    expect(list.json).toMatchObject({ depth: 5, pending: 2, matching: { letters: 3, pending: 2, replayed: 1, discarded: 0 } });
    const text = await cli(['dlq', 'list', '--code', 'SHARDSYNC_UNKNOWN_SCHEMA', '--topology', writeTopology(topology)]);
    expect(text.stdout.split('\n')[0]).toBe(`${topology.kafka.topics.deadLetters}: 3 dead letter(s) match code SHARDSYNC_UNKNOWN_SCHEMA: 2 not replayed yet, 1 replayed (the whole topic: 5 dead letter(s), 2 not replayed yet)`);
  });

  it('discards only the letters it is told to, once confirmed, and a replay never sends them', async () => {
    const { topology, dataset, e2 } = await withDeadLetters();
    const updates = topology.kafka.topics.updates;
    const discard = ['dlq', 'discard', '--code', 'SHARDSYNC_UNKNOWN_SCHEMA'];

    const dry = await cliJson<DlqDiscardReport>(topology, [...discard, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json).toMatchObject({ dryRun: true, discarded: 3, notMatching: 1, ignored: 1 });
    const unconfirmed = await cliJson<{ error: string }>(topology, discard);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.json.error).toBe('SHARDSYNC_CLI_USAGE');
    expect((await cliJson<DlqListReport>(topology, ['dlq', 'list'])).json).toMatchObject({ pending: 5, discarded: 0 });

    const run = await cliJson<DlqDiscardReport>(topology, [...discard, '--yes']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json).toMatchObject({ dryRun: false, scanned: 5, discarded: 3, notMatching: 1, ignored: 1, stoppedEarly: false });
    // The output is the record of what was given up: every letter, with its origin and reason.
    expect(run.json.letters.map((l) => [l.offset, l.key, l.deadLetter?.datacenter, l.deadLetter?.code, l.discarded])).toEqual([
      ['0', `${dataset}/a.bin`, 'dc-a', 'SHARDSYNC_UNKNOWN_SCHEMA', true],
      ['1', `${dataset}/a.bin`, 'dc-b', 'SHARDSYNC_UNKNOWN_SCHEMA', true],
      ['3', `${dataset}/a.bin`, 'dc-c', 'SHARDSYNC_UNKNOWN_SCHEMA', true],
    ]);
    const text = await cli([...discard, '--yes', '--topology', writeTopology(topology)]);
    expect(text.stdout).toMatch(/^discarded: +0$/m);

    // The letters are still there, shown as discarded; only the other one waits.
    const list = await cliJson<DlqListReport>(topology, ['dlq', 'list']);
    expect(list.json).toMatchObject({ depth: 5, pending: 1, discarded: 3 });
    expect(list.json.letters.map((l) => [l.offset, l.discarded, l.replayed])).toEqual([
      ['0', true, false],
      ['1', true, false],
      ['2', false, false],
      ['3', true, false],
      ['4', false, true],
    ]);

    const replay = await cliJson<DlqReplayReport>(topology, ['dlq', 'replay']);
    expect(replay.json).toMatchObject({ scanned: 1, replayed: 1 });
    expect((await readTopic(updates)).map((m) => m.value?.toString('base64'))).toEqual([e2.value.toString('base64')]);

    const status = await cliJson<StatusReport>(topology, ['status', '--no-age']);
    expect(status.json.deadLetters).toMatchObject({ depth: 5, pending: 0, discarded: 3 });
    expect(status.json.problems.filter((p) => p.includes('dead letter'))).toEqual([]);
  });

  it('discards only what its dry run showed when given the positions the dry run printed, not a letter dead-lettered in between', async () => {
    const { topology, dataset } = await withDeadLetters();
    const discard = ['dlq', 'discard', '--code', 'SHARDSYNC_UNKNOWN_SCHEMA'];
    const dry = await cliJson<DlqDiscardReport>(topology, [...discard, '--dry-run']);
    expect(dry.json).toMatchObject({ dryRun: true, discarded: 3, through: '0:4' });
    const text = await cli([...discard, '--dry-run', '--topology', writeTopology(topology)]);
    expect(text.stdout).toContain('\n  shardsync dlq discard --code SHARDSYNC_UNKNOWN_SCHEMA --yes --through 0:4');

    // A consumer dead-letters another update with the same code after the operator reviewed the list.
    const late = makeUpdate(dataset, 'late.bin', v(Date.now()), 'late');
    await produce(topology, topology.kafka.topics.deadLetters, [
      deadLetterOf(topology, late, { partition: 2, offset: '7' }, { datacenter: 'dc-a', code: 'SHARDSYNC_UNKNOWN_SCHEMA', message: 'event was written with unknown schema 1234' }),
    ]);

    const run = await cliJson<DlqDiscardReport>(topology, [...discard, '--yes', '--through', dry.json.through]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json.letters.map((l) => l.offset)).toEqual(['0', '1', '3']);
    const list = await cliJson<DlqListReport>(topology, ['dlq', 'list']);
    expect(list.json.letters.map((l) => [l.offset, l.key, l.discarded])).toEqual([
      ['0', `${dataset}/a.bin`, true],
      ['1', `${dataset}/a.bin`, true],
      ['2', `${dataset}/b.bin`, false],
      ['3', `${dataset}/a.bin`, true],
      ['4', 'junk', false],
      ['5', `${dataset}/late.bin`, false],
    ]);

    // Positions naming a partition the topic does not have are a mistake, refused before anything is read.
    const wrong = await cliJson<{ error: string; message: string }>(topology, [...discard, '--yes', '--through', '0:5,3:1']);
    expect(wrong.code).toBe(2);
    expect(wrong.json).toMatchObject({ error: 'SHARDSYNC_CLI_USAGE', message: expect.stringContaining('--through names partition(s) 3') as unknown });
    const garbled = await cliJson<{ error: string }>(topology, [...discard, '--yes', '--through', '0-5']);
    expect(garbled.code).toBe(2);
    expect(garbled.json.error).toBe('SHARDSYNC_CLI_INVALID_ARGUMENT');

    // Without positions, the late letter is discarded too.
    const rest = await cliJson<DlqDiscardReport>(topology, [...discard, '--yes']);
    expect(rest.json.letters.map((l) => l.offset)).toEqual(['5']);
  });

  it('discards every pending letter with --all, leaving replayed ones as they were', async () => {
    const { topology } = await withDeadLetters();
    const replayed = await cliJson<DlqReplayReport>(topology, ['dlq', 'replay', '--datacenter', 'dc-b']);
    expect(replayed.json.replayed).toBe(2);

    const run = await cliJson<DlqDiscardReport>(topology, ['dlq', 'discard', '--all', '--yes']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json).toMatchObject({ discarded: 2, notMatching: 0 });
    expect(run.json.letters.map((l) => l.offset)).toEqual(['0', '3']);
    const list = await cliJson<DlqListReport>(topology, ['dlq', 'list']);
    expect(list.json).toMatchObject({ pending: 0, discarded: 2 });
    expect(list.json.letters.map((l) => (l.discarded ? 'discarded' : l.replayed ? 'replayed' : 'pending'))).toEqual(['discarded', 'replayed', 'replayed', 'discarded', 'replayed']);
  });

  it('refuses to discard while a replay or another discard is running', async () => {
    const { topology } = await withDeadLetters();
    const member = testKafka('cli-test-replay').consumer({ groupId: DLQ_REPLAY_GROUP });
    await member.connect();
    onTestFinished(() => member.disconnect());
    await member.subscribe({ topics: [topology.kafka.topics.deadLetters], fromBeginning: true });
    await member.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async (payload) => void payload.pause() });
    const admin = await testAdmin();
    await waitFor(async () => ((await admin.describeGroups([DLQ_REPLAY_GROUP])).groups[0]?.members.length ?? 0) > 0 || undefined, { what: 'the replay group to have a member' });

    const run = await cliJson<{ error: string; message: string }>(topology, ['dlq', 'discard', '--all', '--yes']);
    expect(run.code).toBe(2);
    expect(run.json).toMatchObject({ error: 'SHARDSYNC_CLI_CONFLICT', message: expect.stringContaining('another dlq replay or discard is running') as unknown });
    await member.disconnect();
    expect((await cliJson<DlqListReport>(topology, ['dlq', 'list'])).json).toMatchObject({ pending: 5, discarded: 0 });
  });

  it('stops reading, sending and recording when interrupted (Ctrl-C), and says so, instead of carrying on until the end', async () => {
    const { topology } = await withDeadLetters();
    const interrupted = async (args: readonly string[]) => {
      const controller = new AbortController();
      controller.abort(new Error('interrupted by SIGINT'));
      let stdout = '';
      const code = await runCli([...args, '--topology', writeTopology(topology), '--json'], {
        stdout: { write: (s) => ((stdout += s), true) },
        stderr: { write: () => true },
        signal: controller.signal,
      });
      return { code, json: JSON.parse(stdout) as { error?: string; message?: string } };
    };
    for (const args of [['dlq', 'replay'], ['dlq', 'discard', '--all', '--yes'], ['dlq', 'list']]) {
      const run = await interrupted(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.json, args.join(' ')).toMatchObject({ error: 'SHARDSYNC_CLI_INTERRUPTED' });
    }
    expect(await readTopic(topology.kafka.topics.updates)).toHaveLength(0);
    expect((await cliJson<DlqListReport>(topology, ['dlq', 'list'])).json).toMatchObject({ pending: 5, discarded: 0 });
  });

  it('does not replay a letter it cannot decode (a newer schema) that was dead-lettered longer than the tombstone grace period ago: its update is older still, and may be a put of a key deleted since', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const day = 24 * 3600 * 1000;
    const now = Date.now();
    // Written by a producer newer than this CLI: the consumers, upgraded, decode it; the CLI cannot tell its version.
    const newer = (e: ReturnType<typeof makeUpdate>) => ({ ...e, headers: { ...e.headers, 'shardsync-schema': 'ffffffffffffffff' } });
    const oldPut = newer(makeUpdate(dataset, 'old.bin', v(now - 10 * day), 'old'));
    const recentPut = newer(makeUpdate(dataset, 'new.bin', v(now - 1000), 'new'));
    const reason = { datacenter: 'dc-b', code: 'SHARDSYNC_UNKNOWN_SCHEMA', message: 'event was written with unknown schema ffffffffffffffff' };
    const consumed = (e: ReturnType<typeof makeUpdate>, offset: string) => ({ topic: topology.kafka.topics.updates, partition: 0, offset, key: Buffer.from(e.key), value: e.value, headers: e.headers, timestampMs: now });
    await produce(topology, topology.kafka.topics.deadLetters, [
      toDeadLetter(consumed(oldPut, '1'), reason, now - 9 * day),
      toDeadLetter(consumed(recentPut, '2'), reason, now - 500),
    ]);

    const run = await cliJson<DlqReplayReport>(topology, ['dlq', 'replay']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json).toMatchObject({ replayed: 1, tooOld: 1 });
    expect((await readTopic(topology.kafka.topics.updates)).map((m) => m.key?.toString())).toEqual([recentPut.key]);
  });

  it('does not replay a letter written without its update (too large with its headers) as an empty record, which every consumer would dead-letter again', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const e = makeUpdate(dataset, 'a.bin', v(Date.now() - 1000), 'one');
    const reason = { datacenter: 'dc-b', code: 'SHARDSYNC_SOURCE_UNAVAILABLE', message: 'the staged payload is gone' };
    await produce(topology, topology.kafka.topics.deadLetters, [withoutValue(deadLetterOf(topology, e, { partition: 0, offset: '0' }, reason))]);

    const run = await cli(['dlq', 'replay', '--topology', writeTopology(topology)]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('warning: 1 letter(s) were written without their update');
    expect(await readTopic(topology.kafka.topics.updates)).toEqual([]);
    expect((await cliJson<DlqReplayReport>(topology, ['dlq', 'replay'])).json).toMatchObject({ replayed: 0, valueDropped: 1, tooOld: 0 });
    expect((await cliJson<DlqListReport>(topology, ['dlq', 'list'])).json.pending).toBe(1);
  });
});

describe('shardsync dlq, interrupted', () => {
  it.each([['list'], ['replay', '--dry-run'], ['discard', '--all', '--yes']])('dlq %s stops at once when interrupted (Ctrl-C) while it waits on a broker that does not answer, and changes nothing', async (...args) => {
    const topology = await createTestTopology();
    const silent = await silentServer();
    // The stack's broker comes from the environment, which would override the topology.
    const env = { ...process.env, SHARDSYNC_KAFKA_BROKERS: silent };
    const run = await interruptedRun({ ...topology, kafka: { ...topology.kafka, brokers: [silent] } }, ['dlq', ...args], 500, env);
    expect(run.json).toMatchObject({ error: 'SHARDSYNC_CLI_INTERRUPTED', retriable: true });
    expect(run.code).toBe(2);
    // Without the interruption it would wait out kafkajs's connection retries and request timeout (30 s).
    expect(run.stoppedAfterMs).toBeLessThan(2000);
  });
});
