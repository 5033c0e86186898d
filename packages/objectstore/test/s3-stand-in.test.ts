import { describe, expect, test } from 'vitest';
import { OperationAbortedError, StoreUnavailableError } from '../src/index.js';
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
});
