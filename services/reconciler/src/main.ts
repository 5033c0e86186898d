import { loadTopology, parseEnv } from '@shardsync/config';
import { createLogger, runService } from '@shardsync/runtime';
import { reconcilerEnvSchema } from './env.js';
import { ReconcilerService } from './service.js';

/** Entry point: one reconciler instance (any number may run). Wiring and shutdown only. */
async function main(): Promise<void> {
  const env = parseEnv(reconcilerEnvSchema, process.env, 'reconciler');
  const topology = loadTopology();
  const logger = createLogger('reconciler');
  await runService({ name: 'reconciler', logger, graceMs: env.SHARDSYNC_SHUTDOWN_GRACE_MS, start: (signal) => ReconcilerService.start({ topology, env, logger, signal }) });
}

main().catch((err: unknown) => {
  process.stderr.write(`shardsync reconciler: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
