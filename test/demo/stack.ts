import { stackStatus, stackUp, stopServer, type StackOptions, type StackStatus } from '@shardsync/infra';

/** The local stack as the demo found or started it. */
export interface RunningStack {
  readonly status: StackStatus;
  /** Servers that were not running before and that {@link RunningStack.stop} stops again. */
  readonly startedHere: readonly string[];
  /** Stops only the servers this run started; a stack someone else started stays up. */
  stop(): Promise<void>;
}

/**
 * Starts whatever part of the local stack is not running (Kafka, one S3 server per datacenter,
 * Redis) and remembers which servers it started, so the demo leaves the machine as it found it.
 */
export async function ensureStack(options: StackOptions, log: (line: string) => void): Promise<RunningStack> {
  const before = await stackStatus(options);
  const startedHere = before.servers.filter((s) => s.state === 'stopped').map((s) => s.name);
  const status = before.healthy ? before : await stackUp(options);
  if (startedHere.length === 0) log('local stack: already running, used as it is');
  let stopping: Promise<void> | undefined;
  return {
    status,
    startedHere,
    stop: () => {
      stopping ??= (async () => {
        const failures: string[] = [];
        // Services are gone by now; the servers have no order among themselves.
        await Promise.all(
          startedHere.map(async (name) => {
            try {
              await stopServer(name, options);
            } catch (err) {
              failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
            }
          }),
        );
        if (failures.length > 0) throw new Error(`could not stop every server of the local stack:\n${failures.join('\n')}`);
      })();
      return stopping;
    },
  };
}
