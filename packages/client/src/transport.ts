import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { DeclaredLengthGuard } from './declared-length.js';
import type { AttemptBody, BodySource } from './body.js';
import { abortError, classifyNetworkError, ShardsyncClientError } from './errors.js';
import type { CompiledClientOptions } from './options.js';

/**
 * An answer to one update is a small JSON document; anything longer is not the producer talking.
 * A request whose answer may be longer (a batch's: one result per item) says so in
 * {@link AttemptRequest.maxAnswerBytes}.
 */
export const DEFAULT_MAX_ANSWER_BYTES = 1024 * 1024;

export interface AttemptRequest {
  method: 'PUT' | 'DELETE' | 'POST';
  /** Path below the base URL, already encoded. */
  path: string;
  headers: Record<string, string>;
  body?: BodySource | undefined;
  signal?: AbortSignal | undefined;
  /** Most answer bytes read; a longer answer is cut there and marked {@link HttpAnswer.truncated}. Default {@link DEFAULT_MAX_ANSWER_BYTES}. */
  maxAnswerBytes?: number | undefined;
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The answer's body, or its first `maxAnswerBytes` when {@link truncated}. */
  body: string;
  /** The answer was longer than the request allowed: `body` is only its beginning. */
  truncated: boolean;
}

/**
 * One HTTP exchange with the producer over node:http, with the body streamed: a stream is piped
 * (with backpressure) once the connection is open, never collected in memory. An answer that
 * arrives before the body was fully sent (e.g. 413, 401) ends the upload and is returned.
 */
export class Transport {
  readonly #o: CompiledClientOptions;
  readonly #agent: HttpAgent;
  readonly #https: boolean;
  /** The base URL's path without its trailing slash; request paths are appended to it. */
  readonly #prefix: string;
  /** The base URL's host as node:http takes it: an IPv6 literal without the brackets URL keeps around it. */
  readonly #hostname: string;

  constructor(options: CompiledClientOptions) {
    this.#o = options;
    this.#prefix = options.baseUrl.pathname.replace(/\/+$/, '');
    this.#https = options.baseUrl.protocol === 'https:';
    // `http://[::1]:18080` has the hostname "[::1]", which node:http would look up in DNS (ENOTFOUND).
    this.#hostname = options.baseUrl.hostname.replace(/^\[(.*)\]$/, '$1');
    // Without `timeout`, node:http keeps an unused connection open until the server closes it, and
    // ignores the server's Keep-Alive hint (it only ever lowers the agent's own timeout): a call
    // could then reuse a connection at the moment the server drops it.
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets, timeout: options.keepAliveMs };
    this.#agent = this.#https ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  }

  /** The target of a request, for error messages. */
  describe(method: string, path: string): string {
    return `${method} ${this.#o.baseUrl.origin}${this.#prefix}${path}`;
  }

  /** Resolves with any HTTP answer; rejects with a {@link ShardsyncClientError} when there was none. */
  send(request: AttemptRequest): Promise<HttpAnswer> {
    return new Promise<HttpAnswer>((resolve, reject) => {
      const { baseUrl, token } = this.#o;
      const target = this.describe(request.method, request.path);
      if (request.signal?.aborted === true) {
        reject(abortError(request.signal));
        return;
      }
      let body: AttemptBody | undefined;
      try {
        body = request.body?.open();
      } catch (err) {
        reject(err instanceof ShardsyncClientError ? err : new ShardsyncClientError('SHARDSYNC_CLIENT_BODY_FAILED', `opening the body failed: ${String(err)}`, { retriable: false, cause: err }));
        return;
      }
      // A stream that already failed (a single-use one while the call waited to retry, or one
      // its factory destroyed) cannot be sent. Its 'error' event may still be on its way: it is
      // listened for here and reported by the rejection.
      if (body?.kind === 'stream' && body.stream.errored instanceof Error) {
        body.stream.on('error', () => undefined);
        reject(bodyFailed(body.stream.errored, target));
        return;
      }
      const headers: Record<string, string> = { ...request.headers, authorization: `Bearer ${token}` };
      const length = body?.kind === 'bytes' ? body.bytes.length : body?.length;
      // Without a length, node:http streams the body with chunked transfer encoding. A stream
      // declared empty goes chunked too: with Content-Length 0 the server would take the request
      // as complete before the guard below could see a byte too many.
      if (length !== undefined && (body?.kind === 'bytes' || length > 0)) headers['content-length'] = String(length);

      const req = (this.#https ? httpsRequest : httpRequest)({
        protocol: baseUrl.protocol,
        hostname: this.#hostname,
        port: baseUrl.port,
        path: `${this.#prefix}${request.path}`,
        method: request.method,
        headers,
        agent: this.#agent,
      });

      let settled = false;
      let responded = false;
      let bodyStarted = false;
      let connectTimer: NodeJS.Timeout | undefined;
      /** Between a stream with a declared length and the request (see DeclaredLengthGuard). */
      let guard: DeclaredLengthGuard | undefined;

      const stopBody = () => {
        if (body?.kind !== 'stream') return;
        // An unread single-use stream is kept: the call can still retry with it. A factory's
        // stream is not: the next attempt opens a new one, so this one would leak its file handle.
        if (!bodyStarted && !body.perAttempt) return;
        if (bodyStarted) {
          body.stream.unpipe(guard ?? req);
          guard?.unpipe(req);
          guard?.destroy();
        }
        // A partly read stream is of no use to anyone: release its resources (file handles).
        if (!body.stream.readableEnded) body.stream.destroy();
      };
      const cleanup = () => {
        if (connectTimer !== undefined) clearTimeout(connectTimer);
        request.signal?.removeEventListener('abort', onAbort);
      };
      const fail = (err: ShardsyncClientError) => {
        if (settled) return;
        settled = true;
        cleanup();
        stopBody();
        req.destroy();
        reject(err);
      };
      const succeed = (answer: HttpAnswer) => {
        if (settled) return;
        settled = true;
        cleanup();
        // Answered before the whole body was sent: the connection cannot carry another request.
        if (!req.writableFinished) {
          stopBody();
          req.destroy();
        }
        resolve(answer);
      };
      const onAbort = () => {
        if (request.signal !== undefined) fail(abortError(request.signal));
      };
      request.signal?.addEventListener('abort', onAbort, { once: true });
      if (body?.kind === 'stream') {
        // From the start, not only once it is piped: a stream may fail before the connection opens
        // (a file that does not exist), and an 'error' nobody listens to crashes the process. The
        // listener stays: after this attempt, fail() does nothing, and the error is still observed.
        body.stream.on('error', (err: Error) => fail(bodyFailed(err, target)));
      }

      const startBody = () => {
        if (settled || bodyStarted) return;
        if (connectTimer !== undefined) clearTimeout(connectTimer);
        bodyStarted = true;
        if (body === undefined) {
          req.end();
        } else if (body.kind === 'bytes') {
          req.end(body.bytes);
        } else {
          request.body?.markStarted();
          if (body.length === undefined) {
            body.stream.pipe(req);
          } else {
            guard = new DeclaredLengthGuard(body.length, target);
            guard.on('error', (err: Error) => fail(err instanceof ShardsyncClientError ? err : bodyFailed(err, target)));
            body.stream.pipe(guard).pipe(req);
          }
        }
      };

      // The body (a stream's first byte in particular) is handed over only once the connection
      // is open: a producer that cannot be reached leaves a single-use stream unread, so the
      // call can still be retried with it.
      req.on('socket', (socket: Socket) => {
        if (!socket.connecting) {
          startBody();
          return;
        }
        connectTimer = setTimeout(() => {
          fail(new ShardsyncClientError('SHARDSYNC_CLIENT_TIMEOUT', `connecting to ${target} took longer than ${this.#o.connectTimeoutMs} ms`, { retriable: true }));
        }, this.#o.connectTimeoutMs);
        socket.once(this.#https ? 'secureConnect' : 'connect', startBody);
      });
      req.setTimeout(this.#o.idleTimeoutMs, () => {
        fail(new ShardsyncClientError('SHARDSYNC_CLIENT_TIMEOUT', `${target}: nothing was sent or received for ${this.#o.idleTimeoutMs} ms`, { retriable: true }));
      });
      req.on('error', (err) => {
        // Once the answer is in, a broken upload (the producer closes after an early answer) is moot.
        if (!responded) fail(classifyNetworkError(err, target));
      });
      req.on('response', (res: IncomingMessage) => {
        responded = true;
        const maxBytes = request.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
        const chunks: Buffer[] = [];
        let size = 0;
        const answer = (truncated: boolean): HttpAnswer => ({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), truncated });
        res.on('data', (chunk: Buffer) => {
          if (settled) return;
          if (size + chunk.length > maxBytes) {
            // Reported, not silently cut: the caller must know it holds only the beginning (a
            // batch's items then are resent, not failed as if the producer had answered nonsense).
            // Reading on would only hold or discard more, without bound: the connection, with the
            // rest of the answer still on it, is of no use for another request and is dropped.
            chunks.push(chunk.subarray(0, maxBytes - size));
            succeed(answer(true));
            req.destroy();
            return;
          }
          size += chunk.length;
          chunks.push(chunk);
        });
        res.on('end', () => succeed(answer(false)));
        res.on('error', (err) => fail(classifyNetworkError(err, target)));
        res.on('close', () => {
          if (!res.complete) fail(classifyNetworkError(new Error('the connection closed in the middle of the answer'), target));
        });
      });
    });
  }

  /** Closes idle kept-alive connections and refuses new ones. */
  close(): void {
    this.#agent.destroy();
  }
}

function bodyFailed(err: Error, target: string): ShardsyncClientError {
  return new ShardsyncClientError('SHARDSYNC_CLIENT_BODY_FAILED', `reading the body stream failed while sending ${target}: ${err.message}`, { retriable: false, cause: err });
}
