import { fileURLToPath } from 'node:url';
import { loadTopology } from '@shardsync/config';
import { freePort, spawnService, type ServiceName } from '@shardsync/testing';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));

/** What each service needs besides its dependencies' addresses. */
const serviceEnv: Record<ServiceName, Record<string, string>> = {
  producer: { SHARDSYNC_DATACENTER: 'dc-a', SHARDSYNC_PRODUCER_PORT: '0', SHARDSYNC_PRODUCER_TOKENS: 'tests:test-token-0123456789abcdef:*' },
  consumer: { SHARDSYNC_DATACENTER: 'dc-a', SHARDSYNC_CONSUMER_PORT: '0' },
  reconciler: { SHARDSYNC_RECONCILER_PORT: '0' },
};

/**
 * Runs a service's entry point with Kafka and Redis at a port nothing listens on, so its start
 * keeps waiting for them, and sends SIGTERM once it logged its first line (it is starting).
 */
async function stopWhileStarting(service: ServiceName): Promise<{ exited: number | NodeJS.Signals | null; lines: string[] }> {
  const nobody = await freePort();
  const { child, exited } = spawnService(
    service,
    loadTopology({ path: `${repoRoot}shardsync.topology.yaml`, env: {} }),
    {
      ...serviceEnv[service],
      SHARDSYNC_KAFKA_BROKERS: `127.0.0.1:${nobody}`,
      SHARDSYNC_REDIS_URL: `redis://127.0.0.1:${nobody}`,
      SHARDSYNC_SHUTDOWN_GRACE_MS: '20000',
      SHARDSYNC_LOG_LEVEL: 'info',
    },
    ['ignore', 'pipe', 'inherit'],
  );
  const lines: string[] = [];
  let pending = '';
  const firstLine = new Promise<void>((resolve) =>
    child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const complete = pending.split('\n');
      pending = complete.pop() ?? '';
      lines.push(...complete);
      if (lines.length > 0) resolve();
    }),
  );
  await firstLine;
  child.kill('SIGTERM');
  return { exited: await exited, lines };
}

describe.each<ServiceName>(['producer', 'consumer', 'reconciler'])('the %s process stopped while it is starting', (service) => {
  it('gives up the start, closes what it opened and exits 0 well within the grace period', async () => {
    const began = Date.now();
    const { exited, lines } = await stopWhileStarting(service);
    expect(exited).toBe(0);
    expect(Date.now() - began).toBeLessThan(15_000);
    expect(lines.some((l) => l.includes('"msg":"stopped before the start finished"'))).toBe(true);
  }, 60_000);
});
