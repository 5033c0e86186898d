import { fastify, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface ReadinessCheck {
  name: string;
  /** Resolves when the dependency answers; rejects with why it does not. */
  check: () => Promise<void>;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, { ok: boolean; error?: string }>;
}

/** Runs every check concurrently with a timeout each; never throws. */
export async function checkReadiness(checks: readonly ReadinessCheck[], timeoutMs = 3000): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async (c) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          c.check(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return [c.name, { ok: true }] as [string, { ok: boolean; error?: string }];
      } catch (err) {
        return [c.name, { ok: false, error: err instanceof Error ? err.message : String(err) }] as [string, { ok: boolean; error?: string }];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const byName: ReadinessReport['checks'] = {};
  for (const [name, result] of results) byName[name] = result;
  return { ready: results.every(([, r]) => r.ok), checks: byName };
}

/**
 * Adds `/healthz` (the process answers), `/readyz` (its dependencies answer; 503 otherwise)
 * and `/metrics` (Prometheus text) to a fastify instance.
 */
export function registerOpsRoutes(app: FastifyInstance, options: { registry: Registry; readiness: readonly ReadinessCheck[]; health?: () => { ok: boolean; detail?: string } }): void {
  app.get('/healthz', async (_req, reply) => {
    const health = options.health?.() ?? { ok: true };
    return reply.code(health.ok ? 200 : 503).send({ status: health.ok ? 'ok' : 'unhealthy', ...(health.detail === undefined ? {} : { detail: health.detail }) });
  });
  app.get('/readyz', async (_req, reply) => {
    const report = await checkReadiness(options.readiness);
    return reply.code(report.ready ? 200 : 503).send(report);
  });
  app.get('/metrics', async (_req, reply) => {
    return reply.header('content-type', options.registry.contentType).send(await options.registry.metrics());
  });
}

/** A fastify instance serving only the ops routes, for services without an API of their own. */
export async function startOpsServer(options: { host: string; port: number; registry: Registry; readiness: readonly ReadinessCheck[]; health?: () => { ok: boolean; detail?: string } }): Promise<{ app: FastifyInstance; url: string }> {
  const app = fastify({ logger: false });
  registerOpsRoutes(app, options);
  const url = await app.listen({ host: options.host, port: options.port });
  return { app, url };
}
