import { describe, expect, it } from 'vitest';
import { inspectPid, parsePidRecord, type PidRecord, type ProcessTable } from '../src/pidfile.js';

const record: PidRecord = {
  server: 'dc-b',
  pid: 4242,
  startedAt: '2026-01-01T00:00:00.000Z',
  cmdlineMarkers: ['-Dshardsync.server=s3-dc-b', '-Dshardsync.state=/repo/.shardsync-state'],
};

function table(processes: Record<number, { cmdline: string; state: string }>): ProcessTable {
  return {
    cmdline: (pid) => processes[pid]?.cmdline,
    state: (pid) => processes[pid]?.state,
  };
}

const ourCmdline = 'java -Xmx256m -Dshardsync.server=s3-dc-b -Dshardsync.state=/repo/.shardsync-state -cp libs/* org.gaul.s3proxy.Main';

describe('pid file staleness', () => {
  it('a live process whose command line carries every marker is ours and running', () => {
    expect(inspectPid(record, table({ 4242: { cmdline: ourCmdline, state: 'S' } }))).toBe('running');
  });

  it('a pid that no longer exists is gone', () => {
    expect(inspectPid(record, table({}))).toBe('gone');
  });

  it('a zombie counts as gone: the server exited and only waits to be reaped', () => {
    expect(inspectPid(record, table({ 4242: { cmdline: '', state: 'Z' } }))).toBe('gone');
  });

  it('a pid reused by another program is detected from its command line', () => {
    expect(inspectPid(record, table({ 4242: { cmdline: 'redis-server 127.0.0.1:6379', state: 'S' } }))).toBe('reused');
  });

  it('the same server of another state directory is not ours', () => {
    const other = ourCmdline.replace('/repo/.shardsync-state', '/other/.shardsync-state');
    expect(inspectPid(record, table({ 4242: { cmdline: other, state: 'S' } }))).toBe('reused');
  });
});

describe('pid file parsing', () => {
  it('reads back what was written', () => {
    expect(parsePidRecord(JSON.stringify(record))).toEqual(record);
  });

  it.each([
    ['not JSON', 'pid=4242'],
    ['a bare number (old format)', '4242'],
    ['pid 1', JSON.stringify({ ...record, pid: 1 })],
    ['a fractional pid', JSON.stringify({ ...record, pid: 42.5 })],
    ['no markers', JSON.stringify({ ...record, cmdlineMarkers: [] })],
    ['an empty marker, which would match any process', JSON.stringify({ ...record, cmdlineMarkers: [''] })],
    ['no server name', JSON.stringify({ ...record, server: undefined })],
  ])('treats %s as no record', (_what, text) => {
    expect(parsePidRecord(text)).toBeUndefined();
  });
});
