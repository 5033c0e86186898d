import { loadTopology, parseEnv } from '@shardsync/config';
import { createLogger, Shutdown } from '@shardsync/runtime';
import { reconcilerEnvSchema } from './env.js';
import { ReconcilerService } from './service.js';

/** Entry point: one reconciler instance (any number may run). Wiring and shutdown only. */
async function main(): Promise<void> {
  const env = parseEnv(reconcilerEnvSchema, process.env, 'reconciler');
  const topology = loadTopology();
  const logger = createLogger('reconciler');
  const service = await ReconcilerService.start({ topology, env, logger });
  const shutdown = new Shutdown(logger);
  shutdown.add('reconciler', () => service.close());
  shutdown.handleSignals(env.SHARDSYNC_SHUTDOWN_GRACE_MS);
}

main().catch((err: unknown) => {
  process.stderr.write(`shardsync reconciler: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
