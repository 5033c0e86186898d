import { loadTopology, parseEnv } from '@shardsync/config';
import { createLogger, Shutdown } from '@shardsync/runtime';
import { producerEnvSchema } from './env.js';
import { ProducerService } from './service.js';

/** Entry point: the producer process. Wiring and shutdown only. */
async function main(): Promise<void> {
  const env = parseEnv(producerEnvSchema, process.env, 'producer');
  const topology = loadTopology();
  const logger = createLogger('producer', { datacenter: env.SHARDSYNC_DATACENTER });
  const service = await ProducerService.start({ topology, env, logger });
  const shutdown = new Shutdown(logger);
  shutdown.add('producer', () => service.close());
  shutdown.handleSignals(env.SHARDSYNC_SHUTDOWN_GRACE_MS);
}

main().catch((err: unknown) => {
  process.stderr.write(`shardsync producer: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
