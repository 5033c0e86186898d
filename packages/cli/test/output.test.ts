import { describe, expect, it } from 'vitest';
import type { DlqDiscardReport, DlqListReport, StatusReport } from '../src/index.js';
import {
  CliError,
  describeError,
  formatError,
  formatProgressLine,
  formatResult,
  identityOf,
  renderDlqDiscard,
  renderDlqList,
  renderFields,
  renderStatus,
  renderTable,
  TerminalProgress,
} from '../src/index.js';

describe('tables', () => {
  it('aligns columns, right-aligns numbers and leaves no trailing spaces', () => {
    const text = renderTable(
      [{ header: 'DATACENTER' }, { header: 'LAG', align: 'right' }, { header: 'NOTE' }],
      [
        ['dc-a', '0', ''],
        ['dc-b', '12,345', 'slow'],
      ],
    );
    expect(text).toBe(['DATACENTER     LAG  NOTE', '----------  ------  ----', 'dc-a             0', 'dc-b        12,345  slow'].join('\n'));
  });

  it('aligns label: value fields', () => {
    expect(renderFields([['a', '1'], ['longer', '2']])).toBe('a:      1\nlonger: 2');
  });
});

describe('results and errors', () => {
  it('prints --json results as JSON and text results as text', () => {
    const result = { data: { ok: true }, text: 'all good', exitCode: 0 as const };
    expect(JSON.parse(formatResult(result, true))).toEqual({ ok: true });
    expect(formatResult(result, false)).toBe('all good\n');
  });

  it('prints errors with their code and hint, as JSON on stdout with --json', () => {
    const err = describeError(new CliError('SHARDSYNC_CLI_CONFLICT', 'another replay is running', { hint: 'wait for it' }));
    expect(formatError('dlq replay', err, false)).toEqual({ stream: 'stderr', text: 'shardsync dlq replay: another replay is running [SHARDSYNC_CLI_CONFLICT]\n  hint: wait for it\n' });
    const json = formatError('dlq replay', err, true);
    expect(json.stream).toBe('stdout');
    expect(JSON.parse(json.text)).toEqual({ error: 'SHARDSYNC_CLI_CONFLICT', message: 'another replay is running', retriable: false, hint: 'wait for it' });
  });

  it("keeps other packages' error codes and adds a hint naming the brokers and where they come from", () => {
    const kafkaDown = Object.assign(new Error('reading the lag: Kafka is unavailable'), { code: 'SHARDSYNC_EVENTLOG_UNAVAILABLE', retriable: true });
    const described = describeError(kafkaDown, { brokers: ['127.0.0.1:19092'], topologyFile: '/x/shardsync.topology.yaml' });
    expect(described.code).toBe('SHARDSYNC_EVENTLOG_UNAVAILABLE');
    expect(described.retriable).toBe(true);
    expect(described.hint).toContain('127.0.0.1:19092 (from /x/shardsync.topology.yaml)');
    const overridden = describeError(kafkaDown, { brokers: ['127.0.0.1:26099'], topologyFile: '/x/shardsync.topology.yaml', brokersFrom: 'SHARDSYNC_KAFKA_BROKERS' });
    expect(overridden.hint).toContain('127.0.0.1:26099 (from SHARDSYNC_KAFKA_BROKERS)');
  });

  it('describes anything thrown, even a non-error', () => {
    expect(describeError('boom')).toEqual({ code: 'SHARDSYNC_CLI_FAILED', message: 'boom', retriable: false });
    expect(describeError(new TypeError('bad')).code).toBe('SHARDSYNC_CLI_FAILED');
  });
});

describe('progress', () => {
  it('draws a bar with percentage and counts, and a counter when the total is unknown', () => {
    expect(formatProgressLine('copying', 25, 100, 'dc-b')).toBe('copying [######------------------]  25% 25/100 dc-b');
    expect(formatProgressLine('listing', 42, undefined)).toBe('listing 42');
  });

  it('fits the line into the terminal width', () => {
    expect(formatProgressLine('x'.repeat(200), 1, 2, undefined, 40)).toHaveLength(39);
  });

  it('redraws at most ten times a second and clears its line when stopped', () => {
    const writes: string[] = [];
    let now = 0;
    const progress = new TerminalProgress({ write: (s) => writes.push(s) > 0, columns: 80 }, () => now);
    progress.update('a', 1, 10);
    now = 50;
    progress.update('a', 2, 10);
    now = 150;
    progress.update('a', 3, 10);
    progress.stop();
    expect(writes).toHaveLength(3);
    expect(writes[2]).toBe('\r\x1b[2K');
  });
});

describe('rendering', () => {
  const status: StatusReport = {
    checkedAt: '2026-01-01T00:00:00.000Z',
    updatesTopic: 'shardsync.updates',
    datacenters: [
      { datacenter: 'dc-a', group: 'shardsync.dc.dc-a', groupState: 'Stable', consumers: 1, noConsumers: false, lag: 0, laggingPartitions: 0, oldestUnapplied: null, store: { ok: true } },
      {
        datacenter: 'dc-b',
        group: 'shardsync.dc.dc-b',
        groupState: 'Empty',
        consumers: 0,
        noConsumers: true,
        lag: 1234,
        laggingPartitions: 3,
        oldestUnapplied: { ageMs: 245_000, producedAt: '2025-12-31T23:55:55.000Z', partition: 2, offset: '17' },
        store: { ok: false, code: 'SHARDSYNC_STORE_UNAVAILABLE', message: 'connect ECONNREFUSED' },
      },
    ],
    deadLetters: { topic: 'shardsync.updates.dlq', depth: 3, pending: 1, discarded: 1 },
    lastPasses: {
      available: true,
      passes: [
        { dataset: 'models', summary: { passId: 'p', finishedAt: '2026-01-01T00:00:00.000Z', dryRun: false, deep: false, datacenters: ['dc-a', 'dc-b'], targets: ['dc-a', 'dc-b'], divergentKeys: 3, repaired: 3, remaining: 0, converged: true } },
        // What `bootstrap --datacenter dc-b --dry-run` records.
        { dataset: 'logs', summary: { passId: 'q', finishedAt: '2026-01-01T00:00:00.000Z', dryRun: true, deep: false, datacenters: ['dc-a', 'dc-b'], targets: ['dc-b'], divergentKeys: 1, repaired: 0, remaining: 1, converged: false } },
      ],
    },
    healthy: false,
    problems: ['dc-b: something'],
  };

  it('renders the status as a table per datacenter, then dead letters, passes and problems', () => {
    const text = renderStatus(status);
    expect(text).toContain('dc-a                   1             0                   0  -                 ok');
    expect(text).toContain('dc-b        none running         1,234                   3  4 min 05 s ago    SHARDSYNC_STORE_UNAVAILABLE');
    expect(text).toContain('dead letters: 3 in shardsync.updates.dlq, 1 not replayed, 1 discarded');
    expect(text).toContain('last reconcile pass of models: 2026-01-01T00:00:00.000Z, 3 divergent key(s), 3 repaired, converged');
    expect(text).toContain('last reconcile pass of logs: 2026-01-01T00:00:00.000Z (dry run) (repairing dc-b only), 1 divergent key(s), 0 repaired, 1 divergent copy left');
    expect(text).toMatch(/problems:\n {2}- dc-b: something$/);
  });

  it('renders dead letters with their origin, datacenter, code and replay state', () => {
    const letter = {
      partition: 0,
      offset: '7',
      key: 'models/a.bin',
      eventId: 'e1',
      replayed: false,
      discarded: false,
      deadLetter: { originalTopic: 'updates', originalPartition: 2, originalOffset: '40', datacenter: 'dc-c', code: 'SHARDSYNC_UNKNOWN_SCHEMA', message: 'unknown\nschema', atMs: Date.UTC(2026, 0, 1) },
    };
    const report: DlqListReport = {
      topic: 'dlq',
      depth: 2,
      pending: 1,
      discarded: 1,
      truncated: false,
      letters: [letter, { ...letter, offset: '8', key: 'models/b.bin', discarded: true }],
    };
    const text = renderDlqList(report);
    expect(text).toContain('dlq: 2 dead letter(s), 1 not replayed yet, 1 discarded');
    expect(text).toContain('0/7     2026-01-01T00:00:00.000Z  dc-c        SHARDSYNC_UNKNOWN_SCHEMA  updates/2/40');
    expect(text).toContain('models/a.bin  no         unknown schema');
    expect(text).toContain('models/b.bin  discarded  unknown schema');
  });

  it('renders a discard with every discarded letter, and what a dry run would do', () => {
    const report: DlqDiscardReport = {
      topic: 'dlq',
      finishedAt: '2026-01-01T03:00:00.000Z',
      dryRun: false,
      filter: { code: 'SHARDSYNC_UNDECODABLE_EVENT' },
      through: '0:9',
      scanned: 3,
      discarded: 2,
      notMatching: 1,
      ignored: 0,
      stoppedEarly: false,
      letters: ['4', '9'].map((offset) => ({
        partition: 0,
        offset,
        key: 'ingest/oops',
        eventId: undefined,
        replayed: false,
        discarded: true,
        deadLetter: { originalTopic: 'updates', originalPartition: 1, originalOffset: '3', datacenter: 'dc-a', code: 'SHARDSYNC_UNDECODABLE_EVENT', message: 'not avro', atMs: 0 },
      })),
    };
    const text = renderDlqDiscard(report);
    expect(text).toContain('dead letters:              dlq (only code SHARDSYNC_UNDECODABLE_EVENT)');
    expect(text).toMatch(/^discarded: +2$/m);
    expect(text).toMatch(/^0\/4 +dc-a +SHARDSYNC_UNDECODABLE_EVENT +updates\/1\/3 +ingest\/oops +not avro$/m);
    expect(text).toMatch(/^0\/9 +dc-a /m);
    expect(text).toContain('these letters will never be replayed');
    const dry = renderDlqDiscard({ ...report, dryRun: true });
    expect(dry).toMatch(/^would discard: +2$/m);
    expect(dry).toContain('dry run: nothing was recorded');
    // What it prints to confirm names where the dry run stopped reading, so nothing newer is discarded unseen.
    expect(dry).toContain('\n  shardsync dlq discard --code SHARDSYNC_UNDECODABLE_EVENT --yes --through 0:9');
    const all = renderDlqDiscard({ ...report, dryRun: true, filter: {}, through: '0:9,3:2' });
    expect(all).toContain('\n  shardsync dlq discard --all --yes --through 0:9,3:2');
    const quoted = renderDlqDiscard({ ...report, dryRun: true, filter: { datacenter: 'dc-a', code: "it's odd" }, through: '0:9' });
    expect(quoted).toContain(`shardsync dlq discard --datacenter dc-a --code "it's odd" --yes --through 0:9`);
    expect(renderDlqDiscard({ ...report, dryRun: true, discarded: 0, letters: [] })).not.toContain('--through');
  });

  it('treats letters of one update from several datacenters as one update', () => {
    const letter = (datacenter: string, offset: string) => ({
      partition: 0,
      offset,
      key: 'k',
      eventId: 'event-1',
      replayed: false,
      discarded: false,
      deadLetter: { originalTopic: 'u', originalPartition: 1, originalOffset: '9', datacenter, code: 'C', message: '', atMs: 0 },
    });
    expect(identityOf(letter('dc-a', '1'))).toBe(identityOf(letter('dc-b', '2')));
    expect(identityOf({ ...letter('dc-a', '1'), eventId: undefined })).toBe('origin:u/1/9');
  });
});
