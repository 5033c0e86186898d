import { parseBytes, parseDurationMs } from './units.js';

/** What `npm start -- [options]` accepts; every field optional, defaults documented. */
export interface DemoOptions {
  /** Body bytes the workload writes. Default 200 MiB (the 1 GiB reference case, scaled down). */
  size?: number;
  /** Stop the workload after this long even if `size` is not reached. Default: no limit. */
  durationMs?: number;
  /** Leave every process up at the end and print how to reach it. Default false. */
  keepRunning?: boolean;
  /** Only bring the system up (no workload, damage or repair). Default false. */
  workload?: boolean;
  /** Skip damaging a datacenter and the reconciliation pass. Default false (damage and repair). */
  damage?: boolean;
  /** How long replication may take to catch up after the workload. Default 5 min. */
  catchUpTimeoutMs?: number;
}

export interface CompiledDemoOptions {
  readonly size: number;
  readonly durationMs: number | undefined;
  readonly keepRunning: boolean;
  readonly workload: boolean;
  readonly damage: boolean;
  readonly catchUpTimeoutMs: number;
}

export const DEMO_USAGE = `Usage: npm start -- [options]

Starts the local stack (Kafka, one S3 server per datacenter, Redis), the shardsync producer, one
consumer per datacenter and the reconciler, drives a workload of emulated microservices, damages
one datacenter behind shardsync's back, repairs it with a reconciliation pass and prints every
datacenter's contents. Exit 0 only if all datacenters hold exactly what was written.

Options:
  --size <bytes>       bytes the workload writes (default 200MiB; e.g. 50MiB, 1GiB)
  --duration <time>    stop the workload after this long (e.g. 30s, 2m; default: when --size is written)
  --keep-running       leave everything running at the end and print the producer URL, token and
                       each datacenter's S3 endpoint and bucket
  --no-workload        only bring the system up and print how to reach it; Ctrl-C stops it
                       (with --keep-running: exit and leave it up)
  --no-damage          skip the damage and the reconciliation pass
  --catch-up-timeout <time>  how long replication may take after the workload (default 5m)
  -h, --help           this text

Environment: the SHARDSYNC_* variables of the topology and the stack (README), e.g.
SHARDSYNC_STATE_DIR, SHARDSYNC_KAFKA_BROKERS, SHARDSYNC_DC_<NAME>_S3_ENDPOINT.`;

export function compileDemoOptions(options: DemoOptions = {}): CompiledDemoOptions {
  return {
    size: options.size ?? 200 * 1024 * 1024,
    durationMs: options.durationMs,
    keepRunning: options.keepRunning ?? false,
    workload: options.workload ?? true,
    damage: options.damage ?? true,
    catchUpTimeoutMs: options.catchUpTimeoutMs ?? 5 * 60_000,
  };
}

/** Parses the command line; `help` when asked for usage. Throws with a message naming the bad argument. */
export function parseDemoArgs(argv: readonly string[]): CompiledDemoOptions | 'help' {
  const options: DemoOptions = {};
  const args = [...argv];
  const valueOf = (flag: string, inline: string | undefined): string => {
    const v = inline ?? args.shift();
    if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value; see --help`);
    return v;
  };
  while (args.length > 0) {
    const arg = args.shift() ?? '';
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    switch (flag) {
      case '-h':
      case '--help':
        return 'help';
      case '--size':
        options.size = parseBytes(valueOf(flag, inline), '--size');
        break;
      case '--duration':
        options.durationMs = parseDurationMs(valueOf(flag, inline), '--duration');
        break;
      case '--catch-up-timeout':
        options.catchUpTimeoutMs = parseDurationMs(valueOf(flag, inline), '--catch-up-timeout');
        break;
      case '--keep-running':
        options.keepRunning = true;
        break;
      case '--no-workload':
        options.workload = false;
        break;
      case '--no-damage':
        options.damage = false;
        break;
      default:
        throw new Error(`unknown argument "${arg}"; see --help`);
    }
  }
  return compileDemoOptions(options);
}
