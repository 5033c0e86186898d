import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';
import { S3ObjectStore, type ObjectStoreOptions } from '../src/index.js';

/** A request as the stand-in saw it, for assertions. */
export interface SeenRequest {
  readonly method: string;
  readonly key: string;
  readonly headers: IncomingMessage['headers'];
}

/**
 * What a test can do to a request before the stand-in serves it: wait (stage a race), or answer
 * it itself (return true once `res` is answered).
 */
export type StandInHook = (req: SeenRequest, res: ServerResponse) => Promise<boolean | void> | boolean | void;

/**
 * A tiny S3 on node:http for client-logic edge cases a real server cannot be made to show on
 * demand: single-request PUT (MD5 ETags), HEAD, GET, DELETE and CopyObject of one bucket, with
 * If-None-Match: * and If-Match enforced as AWS does (412; If-Match on a missing key: 404).
 */
export async function standInS3(hook?: StandInHook): Promise<{ endpoint: string; objects: Map<string, Buffer>; seen: SeenRequest[] }> {
  const objects = new Map<string, Buffer>();
  const seen: SeenRequest[] = [];
  const etagOf = (data: Buffer): string => `"${createHash('md5').update(data).digest('hex')}"`;
  const fail = (res: ServerResponse, status: number, code: string): void => {
    res.writeHead(status, { 'content-type': 'application/xml' });
    res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`);
  };
  /** The condition headers as AWS decides them; true when the request may go on. */
  const conditionsHold = (req: IncomingMessage, res: ServerResponse, current: Buffer | undefined): boolean => {
    const ifMatch = req.headers['if-match'];
    if (req.headers['if-none-match'] === '*' && current !== undefined) {
      fail(res, 412, 'PreconditionFailed');
      return false;
    }
    if (ifMatch !== undefined && current === undefined) {
      fail(res, 404, 'NoSuchKey');
      return false;
    }
    if (ifMatch !== undefined && current !== undefined && ifMatch !== etagOf(current)) {
      fail(res, 412, 'PreconditionFailed');
      return false;
    }
    return true;
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
        const key = path.split('/').slice(2).join('/');
        const request: SeenRequest = { method: req.method ?? '', key, headers: req.headers };
        seen.push(request);
        if ((await hook?.(request, res)) === true) return;
        const current = objects.get(key);
        const lastModified = new Date().toUTCString();
        switch (req.method) {
          case 'HEAD':
          case 'GET':
            if (current === undefined) return fail(res, 404, 'NoSuchKey');
            res.writeHead(200, { etag: etagOf(current), 'content-length': String(current.byteLength), 'last-modified': lastModified });
            return res.end(req.method === 'GET' ? current : undefined);
          case 'DELETE':
            if (!conditionsHold(req, res, current)) return;
            objects.delete(key);
            res.writeHead(204);
            return res.end();
          case 'PUT': {
            if (!conditionsHold(req, res, current)) return;
            const copySource = req.headers['x-amz-copy-source'];
            if (typeof copySource === 'string') {
              const source = objects.get(decodeURIComponent(copySource).replace(/^\/?[^/]+\//, ''));
              if (source === undefined) return fail(res, 404, 'NoSuchKey');
              objects.set(key, source);
              res.writeHead(200, { 'content-type': 'application/xml' });
              return res.end(`<CopyObjectResult><ETag>${etagOf(source).replaceAll('"', '&quot;')}</ETag><LastModified>${new Date().toISOString()}</LastModified></CopyObjectResult>`);
            }
            const data = Buffer.concat(chunks);
            objects.set(key, data);
            res.writeHead(200, { etag: etagOf(data) });
            return res.end();
          }
          default:
            return fail(res, 501, 'NotImplemented');
        }
      })();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, objects, seen };
}

/** An S3ObjectStore on the stand-in (bucket `b`, one attempt per request), closed when the test ends. */
export function storeOn(endpoint: string, options: ObjectStoreOptions = {}): S3ObjectStore {
  const store = new S3ObjectStore({ datacenter: 'stand-in', endpoint, region: 'us-east-1', bucket: 'b' }, { maxAttempts: 1, ...options });
  onTestFinished(() => store.close());
  return store;
}
