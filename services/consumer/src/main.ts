import { loadTopology, parseEnv } from '@shardsync/config';
import { createLogger, runService } from '@shardsync/runtime';
import { consumerEnvSchema } from './env.js';
import { fatalExit } from './fatal-exit.js';
import { ConsumerService } from './service.js';

/** Entry point: one datacenter's consumer process. Wiring and shutdown only. */
async function main(): Promise<void> {
  const env = parseEnv(consumerEnvSchema, process.env, 'consumer');
  const topology = loadTopology();
  const logger = createLogger('consumer', { datacenter: env.SHARDSYNC_DATACENTER });
  // What a fatal error closes: nothing until the service runs.
  let release = async (): Promise<void> => undefined;
  // Exits 1 for a supervisor to restart the consumer, once the fatal line is written. Nothing
  // is drained: unfinished work is not committed, so the restarted process re-applies it.
  const onFatal = fatalExit({ logger, release: () => release() });
  const service = await runService({ name: 'consumer', logger, graceMs: env.SHARDSYNC_SHUTDOWN_GRACE_MS, start: (signal) => ConsumerService.start({ topology, env, logger, onFatal, signal }) });
  if (service !== undefined) release = () => service.abort();
}

main().catch((err: unknown) => {
  process.stderr.write(`shardsync consumer: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
