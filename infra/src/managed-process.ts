import { readFileSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import { describeError, InfraError } from './errors.js';
import { inspectPid, readPidRecord, removePidRecord, writePidRecord, type PidRecord, type PidState } from './pidfile.js';
import { isAlive, logTail, procfs, spawnDetached, stopProcessGroup } from './process.js';

/** How to launch a server: produced just before each start (config files are written then). */
export interface LaunchPlan {
  command: string;
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Strings of the command line that identify this server of this state dir (see {@link PidRecord}). */
  cmdlineMarkers: string[];
}

export interface ManagedProcessSpec {
  name: string;
  host: string;
  /** Ports the server binds; checked to be free before a start. */
  ports: number[];
  pidFile: string;
  logFile: string;
  /** Called before each start; may fetch jars and write config. */
  plan(): Promise<LaunchPlan>;
  /** Throws unless the server answers requests. Must give up within a few seconds. */
  probe(): Promise<void>;
  readyTimeoutMs: number;
  stopGraceMs: number;
  log: (line: string) => void;
}

export interface ProcessSnapshot {
  state: PidState | 'none';
  record: PidRecord | undefined;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** How long a lock file may stay empty (created, its holder's pid not yet written) before it counts as abandoned. */
const EMPTY_LOCK_GRACE_MS = 5_000;

/** Whether the command that wrote a start/stop lock file still runs. */
function lockHeld(lockFile: string): boolean {
  let text: string;
  try {
    text = readFileSync(lockFile, 'utf8');
  } catch {
    // Released meanwhile: try again to take it.
    return false;
  }
  const holder = Number.parseInt(text, 10);
  if (Number.isInteger(holder) && holder > 0) return isAlive(holder);
  try {
    return Date.now() - statSync(lockFile).mtimeMs < EMPTY_LOCK_GRACE_MS;
  } catch {
    return false;
  }
}

/** Whether something accepts TCP connections on host:port. */
export function isPortOpen(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * A server process this stack starts and stops through a pid file: idempotent start, stale pid
 * files cleaned, readiness awaited with a deadline, clean stop of the whole process group.
 */
export class ManagedProcess {
  constructor(readonly spec: ManagedProcessSpec) {}

  /** The pid file and what became of its process. */
  snapshot(): ProcessSnapshot {
    const record = readPidRecord(this.spec.pidFile);
    if (record === undefined) return { state: 'none', record };
    return { state: inspectPid(record, procfs), record };
  }

  /** Removes a pid file that no longer describes a running server of ours; returns the live record, if any. */
  async liveRecord(): Promise<PidRecord | undefined> {
    const { state, record } = this.snapshot();
    if (state === 'running') return record;
    if (record !== undefined) {
      this.spec.log(`${this.spec.name}: removing stale pid file (pid ${record.pid} ${state === 'reused' ? 'now belongs to another program' : 'is gone'})`);
      await removePidRecord(this.spec.pidFile);
    }
    return undefined;
  }

  /**
   * Runs `fn` holding `<pid file>.lock`, so two stack commands never start or stop one server at
   * the same time (two `stack:up`, or a `down` during an `up`). Without it both found no pid file
   * and launched a server each: the one that lost the port exited, and when its pid was written
   * last the pid file named a dead process while the serving one was unknown to `down` and made
   * every later `up` fail with "port taken by a program this stack did not start". A lock whose
   * holder is gone (a command killed mid-start) is taken over.
   */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const lockFile = `${this.spec.pidFile}.lock`;
    await mkdir(dirname(lockFile), { recursive: true });
    // The holder may be waiting for its server to answer, then for it to stop.
    const deadline = Date.now() + this.spec.readyTimeoutMs + this.spec.stopGraceMs + 30_000;
    for (;;) {
      try {
        await writeFile(lockFile, `${process.pid}\n`, { flag: 'wx' });
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      if (!lockHeld(lockFile)) {
        await rm(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new InfraError(
          'SHARDSYNC_INFRA_BUSY',
          `${this.spec.name}: another stack command (pid ${readFileSync(lockFile, 'utf8').trim() || 'unknown'}) has been starting or stopping it for too long; if no such command runs, delete ${lockFile}`,
        );
      }
      await sleep(100);
    }
    try {
      return await fn();
    } finally {
      await rm(lockFile, { force: true });
    }
  }

  /** Starts the server unless ours already runs; resolves once it answers. */
  start(): Promise<'started' | 'already-running'> {
    return this.exclusive(() => this.startLocked());
  }

  private async startLocked(): Promise<'started' | 'already-running'> {
    const live = await this.liveRecord();
    if (live !== undefined) {
      // Ours runs, but where the topology no longer says: waiting for it to answer there would
      // only time out.
      if (live.ports !== undefined && live.ports.join(',') !== this.spec.ports.join(',')) {
        throw new InfraError(
          'SHARDSYNC_INFRA_PORT_MOVED',
          `${this.spec.name} runs (pid ${live.pid}) on port ${live.ports.join(', ')}, but the topology now says ${this.spec.ports.join(', ')}; stop it first (npm run stack:down, then stack:up with the new settings)`,
        );
      }
      // Ours runs; it may still be starting (another `up` launched it a moment ago).
      await this.awaitReady(live.pid);
      return 'already-running';
    }
    for (const port of this.spec.ports) {
      if (await isPortOpen(this.spec.host, port)) {
        throw new InfraError(
          'SHARDSYNC_INFRA_PORT_IN_USE',
          `${this.spec.name}: port ${this.spec.host}:${port} is taken by a program this stack did not start; stop it (see \`ss -ltnp 'sport = :${port}'\`) or change the port in the topology`,
        );
      }
    }
    const plan = await this.spec.plan();
    const pid = await spawnDetached(plan.command, plan.args, { label: this.spec.name, logFile: this.spec.logFile, cwd: plan.cwd, env: plan.env });
    await writePidRecord(this.spec.pidFile, { server: this.spec.name, pid, startedAt: new Date().toISOString(), cmdlineMarkers: plan.cmdlineMarkers, ports: [...this.spec.ports] });
    try {
      await this.awaitReady(pid);
    } catch (error) {
      // Leave nothing half-started behind: a later `up` starts from scratch.
      await stopProcessGroup(pid, { graceMs: 5_000, name: this.spec.name }).catch(() => undefined);
      await removePidRecord(this.spec.pidFile);
      throw error;
    }
    return 'started';
  }

  private async awaitReady(pid: number): Promise<void> {
    const deadline = Date.now() + this.spec.readyTimeoutMs;
    let lastError: unknown;
    for (;;) {
      try {
        await this.spec.probe();
        return;
      } catch (error) {
        lastError = error;
      }
      if (!isAlive(pid)) {
        throw new InfraError('SHARDSYNC_INFRA_START_FAILED', `${this.spec.name} exited while starting; its log is ${this.spec.logFile}`, {
          logTail: await logTail(this.spec.logFile),
        });
      }
      if (Date.now() > deadline) {
        throw new InfraError(
          'SHARDSYNC_INFRA_NOT_READY',
          `${this.spec.name} (pid ${pid}) did not answer within ${this.spec.readyTimeoutMs} ms (last error: ${describeError(lastError)}); its log is ${this.spec.logFile}`,
          { cause: lastError, logTail: await logTail(this.spec.logFile) },
        );
      }
      await sleep(250);
    }
  }

  /** Stops the server if ours runs (SIGTERM, grace period, SIGKILL); the pid file goes either way. */
  stop(): Promise<'stopped' | 'not-running'> {
    return this.exclusive(() => this.stopLocked());
  }

  private async stopLocked(): Promise<'stopped' | 'not-running'> {
    const live = await this.liveRecord();
    if (live === undefined) return 'not-running';
    const how = await stopProcessGroup(live.pid, { graceMs: this.spec.stopGraceMs, name: this.spec.name });
    if (how === 'killed') this.spec.log(`${this.spec.name}: did not stop within ${this.spec.stopGraceMs} ms of SIGTERM; killed`);
    await removePidRecord(this.spec.pidFile);
    return 'stopped';
  }

  /** Whether the server answers now (no waiting). */
  async healthy(): Promise<{ healthy: boolean; detail?: string }> {
    try {
      await this.spec.probe();
      return { healthy: true };
    } catch (error) {
      return { healthy: false, detail: describeError(error) };
    }
  }
}
