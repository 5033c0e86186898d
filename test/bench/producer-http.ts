import { Agent, request } from 'node:http';
import type { Readable } from 'node:stream';

/** The producer's answer to one request, and how long it took (ms, from the request until the answer's end). */
export interface Answer {
  readonly status: number;
  readonly body: string;
  readonly ms: number;
  /** performance.now() when the answer arrived. */
  readonly at: number;
}

/**
 * A lean HTTP/1.1 client for load generation: keep-alive sockets, no fetch/undici overhead per
 * request, bodies as buffers or streams with a known length.
 */
export class ProducerHttp {
  readonly #url: URL;
  readonly #token: string;
  readonly #agent: Agent;

  constructor(baseUrl: string, token: string, maxSockets = 128) {
    this.#url = new URL(baseUrl);
    this.#token = token;
    this.#agent = new Agent({ keepAlive: true, maxSockets });
  }

  /**
   * PUTs a body. A Buffer body whose write failed with EPIPE (the connection was closed under it,
   * so the producer never read the whole body and emitted nothing) is sent once more on a new
   * connection, as the client package would; every other failure is the caller's.
   */
  async put(dataset: string, key: string, body: Buffer | Readable, size: number): Promise<Answer> {
    try {
      return await this.#put(dataset, key, body, size);
    } catch (err) {
      if (!Buffer.isBuffer(body) || (err as { code?: unknown }).code !== 'EPIPE') throw err;
      return this.#put(dataset, key, body, size);
    }
  }

  #put(dataset: string, key: string, body: Buffer | Readable, size: number): Promise<Answer> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.#url.hostname,
          port: this.#url.port,
          method: 'PUT',
          path: `/v1/objects/${encodeURIComponent(dataset)}/${key.split('/').map(encodeURIComponent).join('/')}`,
          agent: this.#agent,
          headers: { authorization: `Bearer ${this.#token}`, 'content-type': 'application/octet-stream', 'content-length': String(size) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const at = performance.now();
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), ms: at - started, at });
          });
        },
      );
      req.on('error', reject);
      if (Buffer.isBuffer(body)) req.end(body);
      else body.pipe(req);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** Throws unless the answer is the producer's 202. */
export function expectAccepted(a: Answer, what: string): void {
  if (a.status !== 202) throw new Error(`${what}: the producer answered ${a.status}: ${a.body.slice(0, 300)}`);
}
