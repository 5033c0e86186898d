import { describe, expect, it } from 'vitest';
import type { DlqListReport, DlqReplayReport, DeadLetterView } from '../src/index.js';
import { renderDlqDiscard, renderDlqList, renderDlqReplay } from '../src/index.js';

function letter(offset: string, code: string, state: 'pending' | 'replayed' | 'discarded' = 'pending'): DeadLetterView {
  return {
    partition: 0,
    offset,
    key: `models/${offset}.bin`,
    eventId: `e${offset}`,
    replayed: state === 'replayed',
    discarded: state === 'discarded',
    deadLetter: { originalTopic: 'updates', originalPartition: 0, originalOffset: offset, datacenter: 'dc-a', code, message: 'm', atMs: 0 },
  };
}

const CODE = 'SHARDSYNC_SOURCE_UNAVAILABLE';

const replayReport = (overrides: Partial<DlqReplayReport>): DlqReplayReport => ({
  topic: 'dlq',
  updatesTopic: 'updates',
  dryRun: false,
  filter: { code: CODE },
  scanned: 0,
  replayed: 0,
  duplicates: 0,
  tooOld: 0,
  valueDropped: 0,
  tombstoneGraceMs: 7 * 24 * 3600 * 1000,
  notMatching: 0,
  ignored: 0,
  stoppedEarly: false,
  letters: [],
  ...overrides,
});

describe('dlq list header', () => {
  const totals = { topic: 'dlq', depth: 9, pending: 7, discarded: 1, truncated: false };

  it('counts the letters a filter matches, by state, and names the topic totals as such', () => {
    const letters = [letter('1', CODE), letter('2', CODE), letter('3', CODE, 'replayed'), letter('4', CODE, 'discarded')];
    const report: DlqListReport = { ...totals, filter: { code: CODE }, matching: { letters: 4, pending: 2, replayed: 1, discarded: 1 }, letters };
    const header = renderDlqList(report).split('\n')[0];
    expect(header).toBe(`dlq: 4 dead letter(s) match code ${CODE}: 2 not replayed yet, 1 replayed, 1 discarded (the whole topic: 9 dead letter(s), 7 not replayed yet, 1 discarded)`);
  });

  it('says the counts cover only the letters shown when --limit cut the list', () => {
    const report: DlqListReport = { ...totals, filter: { code: CODE }, matching: { letters: 2, pending: 2, replayed: 0, discarded: 0 }, letters: [letter('1', CODE), letter('2', CODE)], truncated: true };
    const text = renderDlqList(report);
    expect(text.split('\n')[0]).toBe(`dlq: the first 2 of the dead letters that match code ${CODE}: 2 not replayed yet (the whole topic: 9 dead letter(s), 7 not replayed yet, 1 discarded)`);
    expect(text).toContain('(more letters match; raise --limit to see them)');
  });

  it('keeps the plain totals without a filter', () => {
    expect(renderDlqList({ ...totals, letters: [letter('1', CODE)] }).split('\n')[0]).toBe('dlq: 9 dead letter(s), 7 not replayed yet, 1 discarded');
  });
});

describe('a filtered replay or discard that found nothing pending', () => {
  it('says how many letters match and that all were replayed or discarded before, without suspecting the spelling', () => {
    const text = renderDlqReplay(replayReport({ matching: { letters: 6, pending: 0, replayed: 5, discarded: 1 } }));
    expect(text).toContain(`nothing to do: 6 dead letter(s) match code ${CODE}, all already replayed (5) or discarded (1); see them with: shardsync dlq list --code ${CODE}`);
    expect(text).not.toContain('spelling');
  });

  it('hints at the spelling only when no retained letter matches at all', () => {
    const text = renderDlqReplay(replayReport({ filter: { datacenter: 'dc-b', code: 'SHARDSYNC_SORCE_UNAVAILABLE' }, matching: { letters: 0, pending: 0, replayed: 0, discarded: 0 } }));
    expect(text).toContain('warning: no dead letter matched datacenter dc-b, code SHARDSYNC_SORCE_UNAVAILABLE; check the spelling with: shardsync dlq list');
  });

  it('points at the matching letters when they could not be counted', () => {
    expect(renderDlqReplay(replayReport({}))).toContain(`warning: no pending dead letter matched code ${CODE}; see the letters that match with: shardsync dlq list --code ${CODE}`);
  });

  it('says nothing of the kind once a letter was replayed', () => {
    const text = renderDlqReplay(replayReport({ replayed: 1, letters: [letter('1', CODE, 'replayed')] }));
    expect(text).not.toContain('nothing to do');
    expect(text).not.toContain('warning');
  });

  it('tells a discard the same', () => {
    const text = renderDlqDiscard({
      topic: 'dlq',
      finishedAt: '2026-01-01T00:00:00.000Z',
      dryRun: false,
      filter: { code: CODE },
      through: '',
      scanned: 0,
      discarded: 0,
      notMatching: 0,
      ignored: 0,
      stoppedEarly: false,
      letters: [],
      matching: { letters: 3, pending: 0, replayed: 0, discarded: 3 },
    });
    expect(text).toContain(`nothing to do: 3 dead letter(s) match code ${CODE}, all already replayed (0) or discarded (3)`);
  });
});
