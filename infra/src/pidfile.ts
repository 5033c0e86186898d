import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** What a pid file records about a server this stack started. */
export interface PidRecord {
  server: string;
  pid: number;
  /** ISO time of the start, for status output. */
  startedAt: string;
  /**
   * Strings that all appear in the process's command line while it is ours. A pid whose command
   * line lacks one of them was reused by another program after ours died.
   */
  cmdlineMarkers: string[];
  /** The ports it was started on (absent in pid files of older versions). */
  ports?: number[] | undefined;
}

/** The view of /proc that staleness checks need; a fake one makes them unit-testable. */
export interface ProcessTable {
  /** The NUL-separated command line joined with spaces, or undefined when the pid does not exist. */
  cmdline(pid: number): string | undefined;
  /** The one-letter state from /proc/<pid>/stat (R, S, D, Z, ...), or undefined when the pid does not exist. */
  state(pid: number): string | undefined;
}

export type PidState =
  /** The recorded process runs and is ours. */
  | 'running'
  /** No such process, or only its zombie: the server is down and the pid file is stale. */
  | 'gone'
  /** The pid runs another program: ours died and the pid was reused. The pid file is stale. */
  | 'reused';

/** Decides whether a pid file still describes a live server of ours. */
export function inspectPid(record: PidRecord, table: ProcessTable): PidState {
  const state = table.state(record.pid);
  if (state === undefined || state === 'Z' || state === 'X') return 'gone';
  const cmdline = table.cmdline(record.pid);
  if (cmdline === undefined) return 'gone';
  return record.cmdlineMarkers.every((m) => cmdline.includes(m)) ? 'running' : 'reused';
}

/** Parses a pid file; anything unreadable counts as no record. */
export function parsePidRecord(text: string): PidRecord | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r['server'] !== 'string' || typeof r['startedAt'] !== 'string') return undefined;
  if (typeof r['pid'] !== 'number' || !Number.isInteger(r['pid']) || r['pid'] <= 1) return undefined;
  const markers = r['cmdlineMarkers'];
  if (!Array.isArray(markers) || markers.length === 0 || !markers.every((m): m is string => typeof m === 'string' && m.length > 0)) return undefined;
  const ports = r['ports'];
  const validPorts = Array.isArray(ports) && ports.every((p): p is number => Number.isInteger(p)) ? ports : undefined;
  return { server: r['server'], pid: r['pid'], startedAt: r['startedAt'], cmdlineMarkers: markers, ...(validPorts === undefined ? {} : { ports: validPorts }) };
}

export function readPidRecord(path: string): PidRecord | undefined {
  try {
    return parsePidRecord(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

export async function writePidRecord(path: string, record: PidRecord): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(record, null, 2)}\n`);
}

export async function removePidRecord(path: string): Promise<void> {
  await rm(path, { force: true });
}
