import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { describe, expect, onTestFinished, test } from 'vitest';
import { OperationAbortedError, S3ObjectStore, StoreUnavailableError, type ObjectStoreOptions } from '../src/index.js';
import { body, bucketContents, createTestStore, eventually, readAll, SMALL_PARTS } from './helpers.js';

const MiB = 1024 * 1024;

/** A TCP server on loopback that accepts connections and never answers. */
async function silentServer(): Promise<{ endpoint: string; connections: () => number }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    s.resume(); // read and drop requests, so the client's FIN is seen and the socket closes
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(async () => {
    for (const s of sockets) s.destroy();
    server.close();
    await once(server, 'close');
  });
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => sockets.size };
}

function storeAt(endpoint: string, options: ObjectStoreOptions): S3ObjectStore {
  const store = new S3ObjectStore({ datacenter: 'silent', endpoint, region: 'us-east-1', bucket: 'b' }, { maxAttempts: 1, ...options });
  onTestFinished(() => store.close());
  return store;
}

describe('sockets, timeouts and aborts against real servers', () => {
  test('a fully read body returns its socket to the pool; a destroyed unread body closes it', async () => {
    const { store } = await createTestStore();
    await store.put('k', body(4 * MiB));
    await readAll((await store.get('k')).body);
    await eventually(() => Promise.resolve(store.connectionStats().activeSockets === 0));
    expect(store.connectionStats().idleSockets).toBe(1);

    const unread = await store.get('k');
    expect(store.connectionStats().activeSockets).toBe(1);
    unread.body.destroy();
    await eventually(() => Promise.resolve(store.connectionStats().activeSockets === 0));
  });

  test('aborting a GET while its body is read fails the body and destroys the socket', async () => {
    const { store } = await createTestStore();
    await store.put('k', body(8 * MiB));
    // The PUT's sockets go back to the pool shortly after it resolves: count the idle ones only
    // then, or one returning late reads as the aborted GET's (seen on a loaded CI machine).
    await eventually(() => Promise.resolve(store.connectionStats().activeSockets === 0));
    // The PUT's keep-alive socket may or may not be reused by the GET; either way, the aborted
    // GET's socket must be destroyed, not handed back to the pool.
    const idleBefore = store.connectionStats().idleSockets;
    const controller = new AbortController();
    const { body: stream } = await store.get('k', { signal: controller.signal });
    const failed = once(stream, 'error') as Promise<[Error]>;
    await once(stream, 'readable');
    controller.abort();
    const [err] = await failed;
    // The body fails as aborted (Node's own error for a destroyed response), not as having ended early.
    expect(err.message).toMatch(/abort/i);
    await eventually(() => Promise.resolve(store.connectionStats().activeSockets === 0 && store.connectionStats().idleSockets <= idleBefore));
  });

  test('a body left unread longer than socketIdleTimeoutMs fails with a timeout and frees its socket', async () => {
    const { store } = await createTestStore({ socketIdleTimeoutMs: 300 });
    await store.put('k', body(8 * MiB)); // more than the socket buffers hold, so the transfer stalls
    const { body: stream } = await store.get('k');
    const [err] = (await once(stream, 'error')) as [Error];
    expect(err.name).toBe('TimeoutError');
    await eventually(() => Promise.resolve(store.connectionStats().activeSockets === 0));
  });

  test('a server that never answers fails the request as retriable within requestTimeoutMs', async () => {
    const silent = await silentServer();
    const store = storeAt(silent.endpoint, { requestTimeoutMs: 200, socketIdleTimeoutMs: 60_000 });
    const started = Date.now();
    const err: unknown = await store.head('k').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as StoreUnavailableError).retriable).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
    await eventually(() => Promise.resolve(store.connectionStats().activeSockets === 0 && silent.connections() === 0));
  });

  test("the caller's timeout signal is retriable, its abort is not", async () => {
    const silent = await silentServer();
    const store = storeAt(silent.endpoint, {});
    await expect(store.head('k', { signal: AbortSignal.timeout(100) })).rejects.toBeInstanceOf(StoreUnavailableError);
    const controller = new AbortController();
    const pending = store.head('k', { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(OperationAbortedError);
    await eventually(() => Promise.resolve(store.connectionStats().activeSockets === 0 && silent.connections() === 0));
  });

  test('a refused connection is a retriable StoreUnavailableError that names the endpoint', async () => {
    const silent = await silentServer();
    const port = new URL(silent.endpoint).port;
    const freePort = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    expect(String(freePort)).not.toBe(port);
    const store = storeAt(`http://127.0.0.1:${freePort}`, {});
    const err: unknown = await store.head('k').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).message).toContain(`127.0.0.1:${freePort}`);
    expect((err as Error).message).toContain('ECONNREFUSED');
  });

  test('aborting a multipart put stops it and leaves no object', async () => {
    const { store, raw, bucket } = await createTestStore(SMALL_PARTS);
    const controller = new AbortController();
    const source = Readable.from(
      (async function* () {
        yield body(11 * MiB);
        controller.abort();
        yield body(MiB);
      })(),
      { objectMode: false },
    );
    await expect(store.put('ds/aborted', source, { signal: controller.signal })).rejects.toBeInstanceOf(OperationAbortedError);
    expect(await store.head('ds/aborted')).toBeUndefined();
    expect(await bucketContents(raw, bucket)).toEqual({ keys: [], uploads: [] });
  });
});
