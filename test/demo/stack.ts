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
 * `registerStop` gets the way to stop them before any is started: a Ctrl-C while they start
 * (a first run fetching jars, formatting Kafka) must stop those already up.
 */
export async function ensureStack(options: StackOptions, log: (line: string) => void, registerStop: (stop: () => Promise<void>) => void = () => undefined): Promise<RunningStack> {
  const before = await stackStatus(options);
  const startedHere = before.servers.filter((s) => s.state === 'stopped').map((s) => s.name);
  let stopping: Promise<void> | undefined;
  let starting: Promise<unknown> = Promise.resolve();
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // Let a start still under way settle first, or a server it brings up afterwards stays up.
      await starting.catch(() => undefined);
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
  };
  registerStop(stop);
  const up = before.healthy ? Promise.resolve(before) : stackUp(options);
  starting = up;
  const status = await up;
  if (startedHere.length === 0) log('local stack: already running, used as it is');
  return { status, startedHere, stop };
}
