import type { IncomingMessage } from 'node:http';
import { fastify, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { BATCH_FORMATS, BATCH_FORMATS_HEADER, BATCH_FRAME_CONTENT_TYPE } from '@shardsync/batch-wire';
import { quotedForMessage } from '@shardsync/events';
import { registerOpsRoutes, type Logger, type ReadinessCheck } from '@shardsync/runtime';
import type { Budget } from '../admission.js';
import { TokenAuthenticator, type TokenGrant } from '../auth/tokens.js';
import { ProducerError } from '../errors.js';
import type { Accepted, Ingest } from '../ingest/types.js';
import type { ProducerMetrics } from '../metrics.js';
import { lingerAfterAnswer } from './linger.js';
import { metadataRecord } from './metadata.js';
import { parseBatchFrame, parseBatchRequest, type BatchItem } from './batch-request.js';
import { parseJsonBody, readBody, readJsonBody } from './request-body.js';

export interface ServerDeps {
  ingest: Ingest;
  auth: TokenAuthenticator;
  metrics: ProducerMetrics;
  readiness: readonly ReadinessCheck[];
  logger: Logger;
  maxBodyBytes: number;
  /** Largest `POST /v1/batch` request body. */
  batchMaxBytes: number;
  /** Bytes of batch bodies held at once. */
  batchBudget: Budget;
  /** How long a batch or announcement body may send nothing while it is read (408 then). */
  bodyIdleTimeoutMs: number;
  /**
   * Fires when the producer's shutdown cuts in-flight requests short: bodies still arriving then
   * fail with 503 (a staging upload reading one is aborted) instead of holding the shutdown past its grace period.
   */
  closing: AbortSignal;
}

const META_PREFIX = 'x-shardsync-meta-';

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function authorize(req: FastifyRequest, auth: TokenAuthenticator, dataset: string | undefined): TokenGrant {
  const grant = auth.authenticate(header(req, 'authorization'));
  if (grant === undefined) throw new ProducerError('SHARDSYNC_UNAUTHORIZED', 'a valid "Authorization: Bearer <token>" header is required');
  if (dataset !== undefined && !TokenAuthenticator.allows(grant, dataset)) {
    throw new ProducerError('SHARDSYNC_FORBIDDEN', `token "${grant.name}" may not write dataset ${quotedForMessage(dataset)}`);
  }
  return grant;
}

/** The media type of a Content-Type header, without parameters, lower-case. */
function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(';', 1)[0]?.trim().toLowerCase();
}

function userMetadata(req: FastifyRequest): Record<string, string> {
  const out = metadataRecord();
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(META_PREFIX) && typeof value === 'string') out[name.slice(META_PREFIX.length)] = value;
  }
  const contentType = header(req, 'content-type');
  if (contentType !== undefined) out['content-type'] = contentType;
  return out;
}

function contentLength(req: FastifyRequest, max: number): number | undefined {
  const raw = header(req, 'content-length');
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new ProducerError('SHARDSYNC_INVALID_REQUEST', `Content-Length "${raw}" is not a byte count`);
  if (n > max) throw new ProducerError('SHARDSYNC_BODY_TOO_LARGE', `the body is ${n} bytes; this producer accepts at most ${max}`);
  return n;
}

interface ObjectParams {
  dataset: string;
  '*': string;
}

/** The HTTP API (README "Producer HTTP API"). Bodies are never parsed by fastify: they are streamed. */
export function buildServer(deps: ServerDeps): FastifyInstance {
  const app = fastify({
    logger: false,
    return503OnClosing: true,
    forceCloseConnections: false,
    // A path the router cannot decode (not percent-encoded UTF-8, e.g. a lone surrogate in a key)
    // never reaches the error handler: fastify would answer {"error": "Bad Request"}, which
    // clients take for a proxy's answer rather than the producer's.
    frameworkErrors: (err: Error, _req: FastifyRequest, reply: FastifyReply) => {
      void reply.code(400).send({ error: 'SHARDSYNC_INVALID_REQUEST', message: `the request path is not valid percent-encoded UTF-8 (${err.message})` });
    },
  });
  // Every body reaches the handlers as the raw stream, whatever its content type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req: FastifyRequest, _payload: IncomingMessage, done: (err: Error | null, body?: unknown) => void) => done(null));

  // server.close() (Node 20) closes only the connections idle at that moment: one whose request
  // is in flight stays open after its answer until keepAliveTimeout (72 s), and app.close() with
  // it, outliving the shutdown grace, so Kafka would never be flushed. Once closing, every answer
  // ends its connection, and connections left idle by a request that finished are closed too.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  /** Requests whose answer is being sent: a connection closed after that is not a request the client gave up on. */
  const answered = new WeakSet<FastifyRequest>();
  app.addHook('onSend', async (req, reply, payload) => {
    answered.add(req);
    if (closing) reply.header('connection', 'close');
    return payload;
  });

  app.addHook('onResponse', async (req, reply) => {
    deps.metrics.requests.inc({ route: req.routeOptions.url ?? 'unmatched', method: req.method, status: String(reply.statusCode) });
    if (closing) app.server.closeIdleConnections();
  });

  // A request whose client closed the connection before its answer gets none, so onResponse never
  // runs for it: counted here, as nginx logs it (499), whatever the producer made of it meanwhile.
  // Not one answered first (an early 413 or 408 whose client then reset the connection while its
  // body was still coming): onResponse counted it already.
  app.addHook('onRequestAbort', async (req) => {
    if (!answered.has(req)) deps.metrics.requests.inc({ route: req.routeOptions.url ?? 'unmatched', method: req.method, status: '499' });
  });

  app.setErrorHandler(async (err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const e = toProducerError(err);
    if (e.status >= 500) deps.logger.error({ err, url: req.url }, 'request failed');
    else if (e.code === 'SHARDSYNC_CLIENT_CLOSED_REQUEST') deps.logger.info({ url: req.url, reason: e.message }, 'the client closed its connection before its request body ended');
    // The client may still be sending a body we will not use: drop it until the client has the answer.
    lingerAfterAnswer(req.raw, reply.raw);
    return reply.code(e.status).send({ error: e.code, message: e.message });
  });

  app.put<{ Params: ObjectParams }>('/v1/objects/:dataset/*', async (req, reply) => {
    const { dataset } = req.params;
    const grant = authorize(req, deps.auth, dataset);
    const length = contentLength(req, deps.maxBodyBytes);
    const accepted = await deps.ingest.put({
      grant,
      dataset,
      key: req.params['*'],
      body: req.raw,
      contentLength: length,
      declaredSha256: header(req, 'x-shardsync-sha256'),
      idempotencyKey: header(req, 'idempotency-key'),
      metadata: userMetadata(req),
      closing: deps.closing,
    });
    return reply.code(202).send(accepted);
  });

  app.delete<{ Params: ObjectParams }>('/v1/objects/:dataset/*', async (req, reply) => {
    const { dataset } = req.params;
    const grant = authorize(req, deps.auth, dataset);
    const accepted = await deps.ingest.delete({ grant, dataset, key: req.params['*'], idempotencyKey: header(req, 'idempotency-key') });
    return reply.code(202).send(accepted);
  });

  app.post('/v1/events', async (req, reply) => {
    const grant = authorize(req, deps.auth, undefined);
    const body = await readJsonBody(req.raw, 64 * 1024, deps.bodyIdleTimeoutMs, deps.closing);
    const accepted = await deps.ingest.announce({ grant, body, idempotencyKey: header(req, 'idempotency-key') });
    return reply.code(202).send(accepted);
  });

  // Many small updates in one request: the per-request cost (HTTP, auth) is paid once, and the
  // items' events reach Kafka together. Items are independent, as if sent concurrently; each
  // one's answer is a 202 only once its event is acknowledged.
  app.post('/v1/batch', async (req, reply) => {
    // First, so that errors carry it too: a client tells this producer from one without the binary form by it.
    reply.header(BATCH_FORMATS_HEADER, BATCH_FORMATS);
    const grant = authorize(req, deps.auth, undefined);
    const length = contentLength(req, deps.batchMaxBytes);
    // Held whole until every item is answered; a chunked body may grow to the limit.
    const release = deps.batchBudget.take(length ?? deps.batchMaxBytes);
    try {
      const body = await readBody(req.raw, deps.batchMaxBytes, deps.bodyIdleTimeoutMs, deps.closing);
      const items = mediaType(header(req, 'content-type')) === BATCH_FRAME_CONTENT_TYPE ? parseBatchFrame(body) : parseBatchRequest(parseJsonBody(body));
      const results = await Promise.all(items.map((item) => runBatchItem(deps, grant, item)));
      // The bodies are done with: a client slow to read its answer must not hold the budget.
      release();
      return await reply.code(200).send({ results });
    } finally {
      release();
    }
  });

  registerOpsRoutes(app, { registry: deps.metrics.registry, readiness: deps.readiness });
  return app;
}

type BatchResult = ({ status: 202 } & Accepted) | { status: number; error: string; message: string };

async function runBatchItem(deps: ServerDeps, grant: TokenGrant, item: BatchItem): Promise<BatchResult> {
  let result: BatchResult;
  try {
    if (!TokenAuthenticator.allows(grant, item.dataset)) {
      throw new ProducerError('SHARDSYNC_FORBIDDEN', `token "${grant.name}" may not write dataset ${quotedForMessage(item.dataset)}`);
    }
    const { dataset, key, idempotencyKey } = item;
    // Spelled out rather than `{ ...common, body }`: properties after a spread take a slow path
    // in V8 on Node 20 (about 1 µs per object), paid per item.
    const accepted =
      item.operation === 'put'
        ? await deps.ingest.put({ grant, dataset, key, idempotencyKey, body: item.body, contentLength: item.body.length, declaredSha256: item.sha256, metadata: item.metadata })
        : await deps.ingest.delete({ grant, dataset, key, idempotencyKey });
    result = { status: 202, ...accepted };
  } catch (err) {
    const e = toProducerError(err);
    if (e.status >= 500) deps.logger.error({ err, dataset: item.dataset, key: item.key }, 'batch item failed');
    result = { status: e.status, error: e.code, message: e.message };
  }
  deps.metrics.batchItems.inc({ status: String(result.status) });
  return result;
}

function toProducerError(err: unknown): ProducerError {
  if (err instanceof ProducerError) return err;
  const e = err as { statusCode?: unknown; message?: unknown; code?: unknown };
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ProducerError(e.statusCode === 404 ? 'SHARDSYNC_NOT_FOUND' : 'SHARDSYNC_INVALID_REQUEST', typeof e.message === 'string' ? e.message : 'bad request');
  }
  return new ProducerError('SHARDSYNC_INTERNAL', 'internal error; see the producer log', { cause: err });
}
