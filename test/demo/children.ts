import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** What to run: one service as its own process, output appended to a log file. */
export interface ChildSpec {
  /** For messages: `producer`, `consumer dc-b`. */
  readonly name: string;
  /** Program and arguments, e.g. `node services/producer/dist/main.js`. */
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly logFile: string;
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every Linux build that matters). */
const CLOCK_TICKS = 100;

/** The last lines of a log file, for error messages. */
export function tailOf(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * A child process in its own process group, so that Ctrl-C in the terminal reaches only the demo,
 * which then stops its children in order (services first, servers last) instead of every process
 * racing to exit at once.
 */
export class Child {
  readonly spec: ChildSpec;
  readonly #proc: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  #stopping = false;

  private constructor(spec: ChildSpec, proc: ChildProcess) {
    this.spec = spec;
    this.#proc = proc;
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        resolve({ code, signal });
      });
    });
  }

  static async start(spec: ChildSpec): Promise<Child> {
    await mkdir(dirname(spec.logFile), { recursive: true });
    const fd = openSync(spec.logFile, 'a');
    try {
      const proc = spawn(spec.command, [...spec.args], { cwd: spec.cwd, env: spec.env, stdio: ['ignore', fd, fd], detached: true });
      const child = new Child(spec, proc);
      await new Promise<void>((resolve, reject) => {
        proc.once('spawn', resolve);
        proc.once('error', (err) => reject(new Error(`${spec.name}: cannot start ${spec.command}: ${err.message}`, { cause: err })));
      });
      return child;
    } finally {
      closeSync(fd);
    }
  }

  get pid(): number {
    const pid = this.#proc.pid;
    if (pid === undefined) throw new Error(`${this.spec.name}: no pid`);
    return pid;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  /** True once stop() was called: an exit after that is expected. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Why the process is gone, with the end of its log. */
  describeExit(): string {
    const e = this.#exit;
    const how = e === undefined ? 'is still running' : e.signal !== null ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
    return `${this.spec.name} (pid ${this.#proc.pid}) ${how}; last lines of ${this.spec.logFile}:\n${tailOf(this.spec.logFile)}`;
  }

  /** SIGTERM to the process group, SIGKILL after `graceMs`. Resolves when the process is gone. Idempotent. */
  async stop(graceMs = 20_000): Promise<void> {
    this.#stopping = true;
    if (!this.running) return;
    this.#signal('SIGTERM');
    const timer = setTimeout(() => this.#signal('SIGKILL'), graceMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Lets this process exit while the child keeps running (`--keep-running`). */
  detach(): void {
    this.#proc.unref();
  }

  /** SIGKILL to the group without waiting: for a second Ctrl-C. */
  killNow(): void {
    this.#stopping = true;
    if (this.running) this.#signal('SIGKILL');
  }

  /** Kills at once (SIGKILL to the group). */
  async kill(): Promise<void> {
    this.#stopping = true;
    if (!this.running) return;
    this.#signal('SIGKILL');
    await this.exited;
  }

  #signal(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // Already gone.
    }
  }

  /** Peak resident set size so far (VmHWM), in bytes; undefined once the process is gone. */
  peakRssBytes(): number | undefined {
    return readStatusKiB(this.pid, 'VmHWM');
  }

  /** User + system CPU seconds the process used so far; undefined once it is gone. */
  cpuSeconds(): number | undefined {
    return cpuSecondsOf(this.pid);
  }
}

/** A field of /proc/<pid>/status in KiB (VmHWM, VmRSS), as bytes. */
export function readStatusKiB(pid: number, field: string): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] === undefined ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** utime + stime of a running process, in seconds (from /proc/<pid>/stat). */
export function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds of this process's children that have exited and been reaped (cutime + cstime of
 * /proc/self/stat): the delta around a run of a short-lived tool such as rclone is its CPU time.
 */
export function reapedChildrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
}

/**
 * `preferred` if nothing listens there on 127.0.0.1, else the next free one of the 32 above it,
 * else a port the kernel picks. The kernel's pick comes from the ephemeral range, where an
 * outgoing connection can take it between this check and the service's listen (EADDRINUSE).
 */
export async function freePort(preferred: number): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(undefined));
      server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
        const address = server.address();
        const got = typeof address === 'object' && address !== null ? address.port : undefined;
        server.close(() => resolve(got));
      });
    });
  for (let port = preferred; port < preferred + 32; port++) {
    const got = await tryListen(port);
    if (got !== undefined) return got;
  }
  return (await tryListen(0)) ?? preferred;
}

/**
 * Polls `url` until it answers 200. Fails early when `child` exits, and after `timeoutMs` with
 * the last answer it got.
 */
export async function waitUntilReady(url: string, child: Child, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    if (!child.running) throw new Error(`${child.describeExit()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(3_000) });
      const text = await res.text();
      if (res.status === 200) return;
      last = `${res.status} ${text.slice(0, 300)}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(250);
  }
  throw new Error(`${child.spec.name} was not ready within ${timeoutMs / 1000} s at ${url} (last answer: ${last}); its log: ${child.spec.logFile}\n${tailOf(child.spec.logFile)}`);
}
