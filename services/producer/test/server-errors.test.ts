import { describe, expect, it, onTestFinished } from 'vitest';
import { createLogger } from '@shardsync/runtime';
import { Budget } from '../src/admission.js';
import { parseTokens, TokenAuthenticator } from '../src/auth/tokens.js';
import { buildServer } from '../src/http/server.js';
import type { Accepted, Ingest } from '../src/ingest/types.js';
import { ProducerMetrics } from '../src/metrics.js';

const TOKEN = '0123456789abcdef0123';

/** The HTTP layer over an ingest that accepts everything and records what reached it. */
function server() {
  const reached: string[] = [];
  const accepted = async (what: string): Promise<Accepted> => {
    reached.push(what);
    return { eventId: 'e', dataset: 'models', key: 'k', version: 'v', sha256: null, size: 0 };
  };
  const ingest: Ingest = {
    put: (r) => accepted(`put ${r.key}`),
    delete: (r) => accepted(`delete ${r.key}`),
    announce: () => accepted('announce'),
  };
  const app = buildServer({
    ingest,
    auth: new TokenAuthenticator(parseTokens(`t:${TOKEN}:models`)),
    metrics: new ProducerMetrics(),
    readiness: [],
    logger: createLogger('test', {}, 'silent'),
    maxBodyBytes: 1024 * 1024,
    batchMaxBytes: 1024 * 1024,
    batchBudget: new Budget(1024 * 1024, 'bytes of batch bodies'),
    bodyIdleTimeoutMs: 5000,
    closing: new AbortController().signal,
  });
  onTestFinished(() => app.close());
  return { app, reached };
}

describe('error answers of the HTTP layer', () => {
  it('a path that is not percent-encoded UTF-8 (a key with a lone surrogate) answers 400 {error: SHARDSYNC_INVALID_REQUEST, message}, not fastify\'s {"error": "Bad Request"}', async () => {
    const { app, reached } = server();
    const cases: Array<[string, string, number, string]> = [
      ['PUT', '/v1/objects/models/a%E0%A4%A', 400, 'SHARDSYNC_INVALID_REQUEST'],
      // A lone surrogate: no UTF-8 form.
      ['DELETE', '/v1/objects/models/a%ED%A0%80b', 400, 'SHARDSYNC_INVALID_REQUEST'],
    ];
    for (const [method, url, status, error] of cases) {
      const res = await app.inject({ method, url, headers: { authorization: `Bearer ${TOKEN}` }, payload: method === 'PUT' ? 'x' : undefined });
      const body = res.json<Record<string, unknown>>();
      expect({ url, status: res.statusCode, error: body['error'] }).toEqual({ url, status, error });
      expect(Object.keys(body).sort()).toEqual(['error', 'message']);
      expect(body['message']).toEqual(expect.any(String));
    }
    expect(reached).toEqual([]);
  });
});
