import type { IncomingMessage, ServerResponse } from 'node:http';
import { BATCH_FRAME_CONTENT_TYPE, decodeBatchFrame } from '@shardsync/batch-wire';
import { ShardsyncClient, type ShardsyncClientOptions } from '../src/index.js';
import { ACCEPTED } from './fake-producer.js';

/** Fakes of `POST /v1/batch` for the batching tests: what the producer reads and answers. */

const TOKEN = 'client-test-token-0123456789';

export interface WireItem {
  operation: string;
  dataset: string;
  key: string;
  /** Split off the frame's bytes by `bodyLength`. */
  body?: Buffer;
  bodyLength?: number;
  sha256?: string;
  contentType?: string;
  metadata?: Record<string, string>;
  idempotencyKey: string;
}

/** What a fake producer answers for one item of a batch. */
export type ItemReply = { status: number; json?: Record<string, unknown> } | undefined;

/** Batch requests the fake received, parsed. */
export type Seen = WireItem[][];

/** The items of a batch request in either form, each put with its bytes in `body`; throws on anything else. */
export function decodeItems(request: Buffer, contentType: string | undefined = BATCH_FRAME_CONTENT_TYPE): WireItem[] {
  if (contentType === 'application/json') {
    const { items } = JSON.parse(request.toString('utf8')) as { items: Array<Omit<WireItem, 'body'> & { body?: string }> };
    return items.map((item) => (item.body === undefined ? (item as WireItem) : { ...item, body: Buffer.from(item.body, 'base64') }));
  }
  if (contentType !== BATCH_FRAME_CONTENT_TYPE) throw new Error(`unexpected content type ${contentType}`);
  const { description, bodies } = decodeBatchFrame(request);
  let at = 0;
  const items = (description as { items: WireItem[] }).items.map((item) => {
    if (item.bodyLength === undefined) return item;
    const body = bodies.subarray(at, at + item.bodyLength);
    at += item.bodyLength;
    return { ...item, body };
  });
  if (at !== bodies.length) throw new Error(`${bodies.length - at} bytes after the last body`);
  return items;
}

/** A fake `POST /v1/batch` that answers each item with `decide` (default: 202 echoing it) and records the items. */
export function batchReply(seen: Seen, decide: (item: WireItem, request: number) => ItemReply = () => undefined): (req: IncomingMessage, res: ServerResponse) => void {
  return (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // A request the fake cannot read fails the calls (and so the test) through a 4xx answer.
      let items: WireItem[];
      try {
        items = decodeItems(Buffer.concat(chunks), req.headers['content-type']);
      } catch (err) {
        res.writeHead(415, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'SHARDSYNC_INVALID_REQUEST', message: String(err) }));
        return;
      }
      seen.push(items);
      const results = items.map((item) => {
        const reply = decide(item, seen.length);
        return { status: reply?.status ?? 202, ...(reply?.json ?? ACCEPTED(item.dataset, item.key)) };
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ results }));
    });
  };
}

export function batchingClient(url: string, options: Partial<ShardsyncClientOptions> = {}): ShardsyncClient {
  return new ShardsyncClient({ baseUrl: url, token: TOKEN, retry: { initialDelayMs: 1, maxDelayMs: 5 }, batch: true, ...options });
}
