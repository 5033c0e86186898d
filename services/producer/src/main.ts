import { loadTopology, parseEnv } from '@shardsync/config';
import { createLogger, runService } from '@shardsync/runtime';
import { producerEnvSchema } from './env.js';
import { ProducerService } from './service.js';

/** Entry point: the producer process. Wiring and shutdown only. */
async function main(): Promise<void> {
  const env = parseEnv(producerEnvSchema, process.env, 'producer');
  const topology = loadTopology();
  const logger = createLogger('producer', { datacenter: env.SHARDSYNC_DATACENTER });
  await runService({ name: 'producer', logger, graceMs: env.SHARDSYNC_SHUTDOWN_GRACE_MS, start: (signal) => ProducerService.start({ topology, env, logger, signal }) });
}

main().catch((err: unknown) => {
  process.stderr.write(`shardsync producer: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
