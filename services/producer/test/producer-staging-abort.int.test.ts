import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Topology } from '@shardsync/config';
import { STAGING_PREFIX } from '@shardsync/events';
import { StorePool, type UploadEntry } from '@shardsync/objectstore';
import { createTestTopology, readTopic, waitFor } from '@shardsync/testing';
import { auth, spawnTestProducerProcess, startTestProducer } from './helpers.js';

const MiB = 1024 * 1024;
/** Above the store's single-PUT limit (16 MiB): announced, it is staged as a multipart upload from its first bytes. */
const LENGTH = 40 * MiB;
/** What the client sends before it stops: more than one part (16 MiB), less than the whole body. */
const SENT = 20 * MiB;

/** The incomplete multipart uploads in dc-a's staging area, as the staging collector lists them. */
function stagingUploads(topology: Topology): () => Promise<UploadEntry[]> {
  const pool = new StorePool(topology.datacenters);
  onTestFinished(() => pool.close());
  const store = pool.of('dc-a');
  return async () => {
    const out: UploadEntry[] = [];
    for await (const u of store.listUploads({ prefix: STAGING_PREFIX })) out.push(u);
    return out;
  };
}

interface PartialPut {
  readonly req: ClientRequest;
  /** The answer, if one comes: status and the error code of its JSON body. */
  readonly answer: Promise<{ status: number; error: string | undefined }>;
}

/** A PUT announcing {@link LENGTH} bytes of which only {@link SENT} are sent; the rest never comes. */
function partialPut(baseUrl: string, dataset: string, key: string): PartialPut {
  const url = new URL(baseUrl);
  const req = request({ host: url.hostname, port: url.port, method: 'PUT', path: `/v1/objects/${dataset}/${key}`, headers: { ...auth(), 'content-length': String(LENGTH) } });
  // A connection cut by either side: the answer (if any) tells what happened.
  req.on('error', () => undefined);
  onTestFinished(() => void req.destroy());
  const answer = (once(req, 'response') as Promise<[IncomingMessage]>).then(async ([res]) => {
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: string };
    return { status: res.statusCode ?? 0, error: body.error };
  });
  answer.catch(() => undefined);
  req.write(randomBytes(SENT));
  return { req, answer };
}

/** The statuses the producer counted for PUT requests, once it counted any. */
async function putStatuses(producerUrl: string): Promise<Array<string | undefined>> {
  const lines = await waitFor(async () => {
    const found = (await (await fetch(`${producerUrl}/metrics`)).text()).split('\n').filter((l) => l.startsWith('shardsync_producer_requests_total{') && l.includes('method="PUT"'));
    return found.length > 0 ? found : undefined;
  }, { what: 'the PUT counted' });
  return lines.map((l) => `${/status="(\d+)"/.exec(l)?.[1] ?? '?'} ${l.split(' ').at(-1) ?? '?'}`);
}

/** Waits until the producer has begun staging the body: its multipart upload is listed. */
async function uploadBegun(uploads: () => Promise<UploadEntry[]>): Promise<UploadEntry> {
  return waitFor(async () => (await uploads())[0], { what: 'the staging multipart upload to begin' });
}

describe('a staging upload cut short', () => {
  it('a client that disconnects mid-body leaves no incomplete staging upload, emits nothing and is counted as 499 (its doing), not a 5xx', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology);
    const uploads = stagingUploads(topology);
    const put = partialPut(producer.url, topology.datasets[0]!.name, 'disconnected.bin');
    await uploadBegun(uploads);

    put.req.destroy();
    await waitFor(async () => ((await uploads()).length === 0 ? true : undefined), { timeoutMs: 10_000, what: 'the staging upload to be aborted' });
    expect(await readTopic(topology.kafka.topics.updates)).toEqual([]);
    // The client's doing, counted as such: not a 5xx that would page someone.
    expect(await putStatuses(producer.url)).toEqual(['499 1']);
  });

  it('a body that stops sending gets 408, and its staging upload is aborted before the answer', async () => {
    const topology = await createTestTopology();
    const producer = await startTestProducer(topology, { SHARDSYNC_PRODUCER_BODY_IDLE_TIMEOUT_MS: '1000' });
    const uploads = stagingUploads(topology);
    const put = partialPut(producer.url, topology.datasets[0]!.name, 'stalled.bin');
    await uploadBegun(uploads);

    expect(await put.answer).toEqual({ status: 408, error: 'SHARDSYNC_REQUEST_TIMEOUT' });
    expect(await uploads()).toEqual([]);
    expect(await readTopic(topology.kafka.topics.updates)).toEqual([]);
    // Counted once, as answered: the lingering that then cut the rest of the body is no 499.
    put.req.destroy();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await putStatuses(producer.url)).toEqual(['408 1']);
  });

  it('on SIGTERM, an upload still streaming halfway through the grace period is cut short: 503, its staging upload aborted, nothing emitted, and the process exits cleanly within the grace', async () => {
    const topology = await createTestTopology();
    const grace = 8000;
    const producer = await spawnTestProducerProcess(topology, { SHARDSYNC_SHUTDOWN_GRACE_MS: String(grace) });
    await waitFor(async () => ((await fetch(`${producer.url}/readyz`)).ok ? true : undefined), { timeoutMs: 60_000, what: 'the producer to be ready' });
    const uploads = stagingUploads(topology);
    // A client still sending, slowly enough that its body would not end within the grace period.
    const put = partialPut(producer.url, topology.datasets[0]!.name, 'at-shutdown.bin');
    await uploadBegun(uploads);

    const signalled = Date.now();
    producer.child.kill('SIGTERM');
    const answer = await put.answer;
    // The client has its answer and stops sending (the server then closes the connection at once).
    put.req.destroy();
    expect(answer).toEqual({ status: 503, error: 'SHARDSYNC_UNAVAILABLE' });
    expect(await producer.exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(grace);
    expect(await uploads()).toEqual([]);
    expect(await readTopic(topology.kafka.topics.updates)).toEqual([]);
  });
});
