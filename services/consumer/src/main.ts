import { loadTopology, parseEnv } from '@shardsync/config';
import { createLogger, Shutdown } from '@shardsync/runtime';
import { consumerEnvSchema } from './env.js';
import { ConsumerService } from './service.js';

/** Entry point: one datacenter's consumer process. Wiring and shutdown only. */
async function main(): Promise<void> {
  const env = parseEnv(consumerEnvSchema, process.env, 'consumer');
  const topology = loadTopology();
  const logger = createLogger('consumer', { datacenter: env.SHARDSYNC_DATACENTER });
  const service = await ConsumerService.start({
    topology,
    env,
    logger,
    onFatal: (reason, err) => {
      // Unfinished work is not committed, so the restarted process re-applies it.
      logger.fatal({ err, reason }, 'exiting so that a supervisor restarts the consumer');
      process.exit(1);
    },
  });
  const shutdown = new Shutdown(logger);
  shutdown.add('consumer', () => service.close());
  shutdown.handleSignals(env.SHARDSYNC_SHUTDOWN_GRACE_MS);
}

main().catch((err: unknown) => {
  process.stderr.write(`shardsync consumer: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
