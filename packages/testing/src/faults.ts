import { startServer, stopServer } from '@shardsync/infra';
import { onTestFinished } from 'vitest';
import { stackInfo } from './stack-info.js';

/**
 * Stops one server of the shared stack (`kafka`, `redis` or a datacenter such as `dc-b`) for a
 * fault test, and makes sure it runs again when the test ends, whatever the test did.
 * Returns a function that starts it again earlier.
 */
export async function stopStackServer(name: string): Promise<() => Promise<void>> {
  const { topologyPath, stateDir } = stackInfo();
  const options = { topologyPath, stateDir, log: () => undefined };
  await stopServer(name, options);
  let restarted = false;
  const restart = async () => {
    if (restarted) return;
    restarted = true;
    await startServer(name, options);
  };
  onTestFinished(restart);
  return restart;
}
