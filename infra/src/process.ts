import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InfraError } from './errors.js';
import type { ProcessTable } from './pidfile.js';

const readOrUndefined = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** Field 3 of /proc/<pid>/stat; the command name in field 2 may hold spaces and parentheses. */
function statFields(pid: number): string[] | undefined {
  const stat = readOrUndefined(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

const HAS_PROC = existsSync('/proc/self/stat');

/** `ps` fallback for systems without /proc (macOS). */
function psField(pid: number, field: 'command' | 'state'): string | undefined {
  try {
    const out = execFileSync('ps', ['-o', `${field}=`, '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return out === '' ? undefined : out;
  } catch {
    return undefined;
  }
}

/** The real process table: Linux's /proc, else `ps`. */
export const procfs: ProcessTable = {
  cmdline(pid) {
    if (!HAS_PROC) return psField(pid, 'command');
    const raw = readOrUndefined(`/proc/${pid}/cmdline`);
    return raw === undefined ? undefined : raw.split('\0').join(' ').trim();
  },
  state(pid) {
    if (!HAS_PROC) return psField(pid, 'state')?.charAt(0);
    return statFields(pid)?.[0];
  },
};

/** Whether the process exists and has not finished exiting (see {@link exited}). */
export function isAlive(pid: number): boolean {
  const state = procfs.state(pid);
  return state !== undefined && !exited(pid, state);
}

/** Live (non-zombie) members of a process group. */
export function groupMembers(pgid: number): number[] {
  if (!HAS_PROC) {
    try {
      process.kill(-pgid, 0);
      return [pgid];
    } catch {
      return [];
    }
  }
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    // After the command: state, ppid, pgrp.
    if (fields !== undefined && fields[2] === String(pgid) && !exited(Number(entry), fields[0])) members.push(Number(entry));
  }
  return members;
}

/**
 * Whether a process has finished exiting. A zombie main thread is not enough: the leader of a
 * multi-threaded process (a JVM, node) shows as a zombie as soon as it exits, while its other
 * threads may still run, and the files and sockets they share are closed only when the last one
 * is gone: a stop that trusted it could return with the server's port still open.
 */
function exited(pid: number, state: string | undefined): boolean {
  if (state !== 'Z' && state !== 'X') return false;
  try {
    return readdirSync(`/proc/${pid}/task`).length <= 1;
  } catch {
    return true; // reaped meanwhile
  }
}

/** Written to the log before each start, so a failure shows only the lines of its own start. */
export const START_BANNER = '=== shardsync stack: starting';

export interface SpawnDetachedOptions {
  /** Names the server in the log's start banner. */
  label: string;
  /** Receives stdout and stderr, appended. */
  logFile: string;
  cwd: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts a server in its own session and process group (so one signal reaches all it forks),
 * with output appended to its log file. The returned pid is the group id.
 */
export async function spawnDetached(command: string, args: readonly string[], options: SpawnDetachedOptions): Promise<number> {
  await mkdir(dirname(options.logFile), { recursive: true });
  const fd = openSync(options.logFile, 'a');
  try {
    writeSync(fd, `${START_BANNER} ${options.label} at ${new Date().toISOString()} ===\n`);
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, detached: true, stdio: ['ignore', fd, fd] });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid ?? -1));
      child.once('error', reject);
    }).catch((cause: unknown) => {
      throw new InfraError('SHARDSYNC_INFRA_START_FAILED', `could not start ${command}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    });
    child.unref();
    return pid;
  } finally {
    closeSync(fd);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

async function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (groupMembers(pgid).length > 0) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

/**
 * Stops a process group: SIGTERM, up to `graceMs` for a clean shutdown (Kafka flushes, Redis saves),
 * then SIGKILL. Resolves once no process of the group is left.
 */
export async function stopProcessGroup(pgid: number, options: { graceMs: number; name: string }): Promise<'terminated' | 'killed' | 'absent'> {
  if (groupMembers(pgid).length === 0) return 'absent';
  signalGroup(pgid, 'SIGTERM');
  if (await waitGroupGone(pgid, options.graceMs)) return 'terminated';
  signalGroup(pgid, 'SIGKILL');
  if (await waitGroupGone(pgid, 10_000)) return 'killed';
  throw new InfraError('SHARDSYNC_INFRA_STOP_FAILED', `${options.name} (process group ${pgid}) survived SIGKILL; check \`ps -g ${pgid}\``);
}

/** The last `lines` lines of a log file since the last start banner (reads at most its last 64 KiB). */
export async function logTail(path: string, lines = 40): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return `(no log at ${path})`;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const text = buffer.toString('utf8');
    const since = text.lastIndexOf(START_BANNER);
    return (since >= 0 ? text.slice(since) : text).trimEnd().split('\n').slice(-lines).join('\n');
  } finally {
    await handle.close();
  }
}
