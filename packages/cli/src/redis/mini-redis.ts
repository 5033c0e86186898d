import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { CliError } from '../errors.js';

/** A RESP2 reply. */
export type RespValue = string | number | null | RespValue[] | RespError;

/** An error reply (`-ERR ...`). */
export class RespError {
  constructor(readonly message: string) {}
}

/**
 * Parses one RESP2 reply from `buf` at `pos`; undefined when the buffer does not hold all of it
 * yet. Exported for tests.
 */
export function parseReply(buf: Buffer, pos = 0): { value: RespValue; next: number } | undefined {
  const lineEnd = buf.indexOf('\r\n', pos);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buf[pos] ?? 0);
  const line = buf.toString('utf8', pos + 1, lineEnd);
  const after = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next: after };
    case '-':
      return { value: new RespError(line), next: after };
    case ':':
      return { value: Number(line), next: after };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next: after };
      if (buf.length < after + length + 2) return undefined;
      return { value: buf.toString('utf8', after, after + length), next: after + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: after };
      const items: RespValue[] = [];
      let next = after;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, next);
        if (item === undefined) return undefined;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP reply type ${JSON.stringify(type)}`);
  }
}

/** Encodes a command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const a of args) parts.push(`$${Buffer.byteLength(a)}\r\n${a}\r\n`);
  return Buffer.from(parts.join(''));
}

/**
 * A minimal Redis client for the few list commands the pass history needs (`LRANGE`, `LPUSH`,
 * `LTRIM`), so the CLI reads and records pass reports without a Redis library. Supports
 * `redis://` and `rediss://` URLs with user, password and database number. Not for services: no
 * reconnects, no pipelining beyond in-order replies.
 */
export class MiniRedis {
  readonly #socket: Socket;
  readonly #pending: Array<{ resolve: (v: RespValue) => void; reject: (e: Error) => void }> = [];
  #buffer: Buffer = Buffer.alloc(0);
  #failure: Error | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#fail(err));
    socket.on('close', () => this.#fail(new Error('connection closed')));
  }

  /** Connects and authenticates; fails within `timeoutMs` with a message naming the URL (without its password). */
  static async connect(url: string, timeoutMs = 5000): Promise<MiniRedis> {
    const parsed = new URL(url);
    const shown = `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
    const port = parsed.port === '' ? 6379 : Number(parsed.port);
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    const socket = parsed.protocol === 'rediss:' ? connectTls({ host, port, servername: host }) : connectTcp({ host, port });
    socket.setNoDelay(true);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
        socket.once(parsed.protocol === 'rediss:' ? 'secureConnect' : 'connect', () => {
          clearTimeout(timer);
          resolve();
        });
        socket.once('error', (err: Error) => {
          clearTimeout(timer);
          reject(err);
        });
      });
      const client = new MiniRedis(socket);
      const password = decodeURIComponent(parsed.password);
      const user = decodeURIComponent(parsed.username);
      if (password !== '') await client.command(user === '' ? ['AUTH', password] : ['AUTH', user, password]);
      const db = parsed.pathname.replace(/^\//, '');
      if (db !== '' && db !== '0') await client.command(['SELECT', db]);
      return client;
    } catch (err) {
      socket.destroy();
      throw new CliError('SHARDSYNC_CLI_FAILED', `Redis at ${shown} did not answer: ${err instanceof Error ? err.message : String(err)}`, {
        retriable: true,
        cause: err,
        hint: 'check redis.url in the topology; for the local stack: npm run stack:status',
      });
    }
  }

  /** Sends one command; rejects with the server's error reply. */
  command(args: readonly string[]): Promise<RespValue> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.#socket.write(encodeCommand(args));
    });
  }

  async lrange(key: string, start: number, stop: number): Promise<string[]> {
    const reply = await this.command(['LRANGE', key, String(start), String(stop)]);
    return Array.isArray(reply) ? reply.filter((v): v is string => typeof v === 'string') : [];
  }

  async lpush(key: string, ...values: string[]): Promise<number> {
    return Number(await this.command(['LPUSH', key, ...values]));
  }

  async ltrim(key: string, start: number, stop: number): Promise<unknown> {
    return this.command(['LTRIM', key, String(start), String(stop)]);
  }

  async close(): Promise<void> {
    if (this.#failure === undefined) await this.command(['QUIT']).catch(() => undefined);
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      let reply: { value: RespValue; next: number } | undefined;
      try {
        reply = parseReply(this.#buffer);
      } catch (err) {
        this.#fail(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (reply === undefined) return;
      this.#buffer = this.#buffer.subarray(reply.next);
      const waiter = this.#pending.shift();
      if (waiter === undefined) continue;
      if (reply.value instanceof RespError) waiter.reject(new Error(`Redis answered: ${reply.value.message}`));
      else waiter.resolve(reply.value);
    }
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    for (const waiter of this.#pending.splice(0)) waiter.reject(err);
  }
}
