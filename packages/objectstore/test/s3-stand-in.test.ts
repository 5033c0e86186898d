import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { OperationAbortedError, sameEtag, StoreUnavailableError } from '../src/index.js';
import type { ListEntry } from '../src/index.js';
import { standInS3, storeOn } from './stand-in-s3.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('S3ObjectStore against a stand-in server', () => {
  test("one caller's abort during the conditional-write probe fails only that caller, not the others waiting for the probe", async () => {
    let releaseProbe: (() => void) | undefined;
    const probeHeld = new Promise<void>((resolve) => (releaseProbe = resolve));
    const s3 = await standInS3(async (req) => {
      // Hold the probe's first write until the test has aborted the first caller.
      if (req.method === 'PUT' && req.key.startsWith('.shardsync/probe/')) await probeHeld;
    });
    const store = storeOn(s3.endpoint);
    const controller = new AbortController();
    const first = store.put('ds/first', Buffer.from('first'), { ifNoneMatch: '*', signal: controller.signal });
    const second = store.put('ds/second', Buffer.from('second'), { ifNoneMatch: '*' });
    await sleep(100);
    controller.abort();
    await expect(first).rejects.toBeInstanceOf(OperationAbortedError);
    releaseProbe?.();
    // The second caller never aborted: its write goes on once the probe has answered.
    await expect(second).resolves.toMatchObject({ size: 6 });
    expect(s3.objects.get('ds/second')?.toString()).toBe('second');
    expect(s3.objects.has('ds/first')).toBe(false);
  });

  test('HTTP 408 Request Timeout (a proxy or server that timed the request out) is retriable', async () => {
    const s3 = await standInS3((_req, res) => {
      res.writeHead(408, { 'content-type': 'text/html' });
      res.end('<html><body>408 Request Time-out</body></html>');
      return true;
    });
    const store = storeOn(s3.endpoint);
    const err: unknown = await store.put('ds/k', Buffer.from('x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as StoreUnavailableError).retriable).toBe(true);
  });

  test('a listing page cut short by a closed connection fails (retriable) instead of ending the listing early', async () => {
    const entry = (key: string): string =>
      `<Contents><Key>${key}</Key><LastModified>2026-11-26T10:00:00.000Z</LastModified><ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>1</Size></Contents>`;
    const s3 = await standInS3((req, res) => {
      if (req.method !== 'GET' || req.key !== '') return false;
      // No Content-Length and no chunking: the body ends where the connection does, so the
      // client cannot tell a cut from the end. The cut falls between two entries.
      const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult><Name>b</Name><KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>${entry('a')}${entry('b')}`;
      res.socket?.end(`HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nConnection: close\r\n\r\n${xml}`);
      return true;
    });
    const store = storeOn(s3.endpoint);
    const listed: ListEntry[] = [];
    const err: unknown = await (async () => {
      for await (const e of store.list()) listed.push(e);
    })().catch((e: unknown) => e);
    expect(listed.map((e) => e.key)).toEqual([]);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as StoreUnavailableError).retriable).toBe(true);
  });

  test("a put cut off by the caller's timeout signal is retriable, as any other request the signal times out", async () => {
    const s3 = await standInS3(() => sleep(1_000));
    const store = storeOn(s3.endpoint);
    // The timeout fires while the PUT waits for its answer, and again while the body is read.
    const slowServer: unknown = await store.put('ds/k', Buffer.from('x'), { signal: AbortSignal.timeout(100) }).catch((e: unknown) => e);
    expect(slowServer).toBeInstanceOf(StoreUnavailableError);
    const neverEnds = new PassThrough();
    const slowSource: unknown = await store.put('ds/k', neverEnds, { signal: AbortSignal.timeout(100) }).catch((e: unknown) => e);
    expect(slowSource).toBeInstanceOf(StoreUnavailableError);
    // A head() already treats it so; the caller's own abort stays OperationAbortedError.
    await expect(store.head('ds/k', { signal: AbortSignal.timeout(100) })).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.put('ds/k', Buffer.from('x'), { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(OperationAbortedError);
  });

  test('a GET answered with headers the SDK cannot read fails without keeping the socket of its unread body', async () => {
    const s3 = await standInS3((req, res) => {
      if (req.method !== 'GET') return false;
      res.writeHead(200, { 'content-length': String(4 * 1024 * 1024), 'last-modified': 'not a date', etag: '"0cc175b9c0f1b6a831c399e269772661"' });
      res.write(Buffer.alloc(1024 * 1024)); // and never more: the body stays unread
      return true;
    });
    const store = storeOn(s3.endpoint);
    await expect(store.get('ds/k')).rejects.toThrow(/GetObject/);
    const deadline = Date.now() + 2_000;
    while (store.connectionStats().activeSockets > 0 && Date.now() < deadline) await sleep(20);
    expect(store.connectionStats().activeSockets).toBe(0);
  });

  test('a server that spells the MD5 ETag in upper case wrote what was sent: the put is not refused as breaking the ETag rule', async () => {
    const data = Buffer.from('spelled in upper case');
    const md5 = createHash('md5').update(data).digest('hex');
    const s3 = await standInS3((req, res) => {
      if (req.method !== 'PUT') return false;
      res.writeHead(200, { etag: `"${md5.toUpperCase()}"` });
      res.end();
      return true;
    });
    const put = await storeOn(s3.endpoint, { verifyEtags: true }).put('ds/upper', data);
    // The server's own spelling, which later conditional requests must send back.
    expect(put.etag).toBe(`"${md5.toUpperCase()}"`);
    expect(sameEtag(put.etag, `"${md5}"`)).toBe(true);
  });
});
