import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { encodeRecords } from './records.js';

/** Requests in flight at once by default, as the client package's default (`batch.maxRequests`). */
const DEFAULT_MAX_REQUESTS = 4;

interface Queued {
  readonly key: string;
  readonly value: Buffer;
  readonly done: (err?: Error) => void;
}

/** A running stand-in producer (see server.ts) and a batching client for it. */
export class StandInProducer {
  readonly #child: ChildProcess;
  readonly #port: number;
  readonly #maxRequests: number;
  readonly #agent: Agent;
  #queue: Queued[] = [];
  #inFlight = 0;
  #scheduled = false;

  private constructor(child: ChildProcess, port: number, maxRequests: number) {
    this.#child = child;
    this.#port = port;
    this.#maxRequests = maxRequests;
    this.#agent = new Agent({ keepAlive: true, maxSockets: maxRequests });
  }

  /** Starts the stand-in as its own Node process (the real producer runs as one too). */
  static async start(brokers: readonly string[], topic: string, maxRequests = DEFAULT_MAX_REQUESTS): Promise<StandInProducer> {
    const server = fileURLToPath(new URL('./server.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', server, brokers.join(','), topic], { stdio: ['ignore', 'pipe', 'inherit'] });
    const stdout = child.stdout;
    if (stdout === null) throw new Error('stand-in producer: no stdout');
    let seen = '';
    const port = await new Promise<number>((resolve, reject) => {
      stdout.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        const m = /listening (\d+)/.exec(seen);
        if (m?.[1] !== undefined) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`stand-in producer exited with code ${code} before listening`)));
    });
    return new StandInProducer(child, port, maxRequests);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /**
   * Resolves once the stand-in answered the request that carried this record. Records submitted
   * in one event-loop turn share requests, split over up to `maxRequests` in flight, as the client package does.
   */
  put(key: string, value: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ key, value, done: (err) => (err === undefined ? resolve() : reject(err)) });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          this.#pump();
        });
      }
    });
  }

  async close(): Promise<void> {
    this.#agent.destroy();
    if (this.#child.exitCode !== null) return;
    const exited = once(this.#child, 'exit');
    this.#child.kill('SIGTERM');
    await exited;
  }

  #pump(): void {
    while (this.#queue.length > 0 && this.#inFlight < this.#maxRequests) {
      const take = Math.max(8, Math.ceil(this.#queue.length / (this.#maxRequests - this.#inFlight)));
      const batch = this.#queue.splice(0, take);
      this.#inFlight += 1;
      void this.#send(batch).finally(() => {
        this.#inFlight -= 1;
        if (this.#queue.length > 0) this.#pump();
      });
    }
  }

  async #send(batch: Queued[]): Promise<void> {
    const body = encodeRecords(batch);
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: this.#port, method: 'POST', path: '/', agent: this.#agent, headers: { 'content-length': body.length } }, (res) => {
          res.resume();
          res.once('end', () => resolve(res.statusCode ?? 0));
          res.once('error', reject);
        });
        req.once('error', reject);
        req.end(body);
      });
      const err = status === 200 ? undefined : new Error(`stand-in producer answered ${status}`);
      for (const q of batch) q.done(err);
    } catch (err) {
      for (const q of batch) q.done(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
