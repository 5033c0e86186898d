import { pathToFileURL } from 'node:url';
import { describeError, InfraError, isInfraError } from './errors.js';
import type { StackOptions } from './options.js';
import { stackDown, stackStatus, stackUp, stackWipe, startServer, stopServer } from './stack.js';
import { formatStatusTable } from './status-table.js';

export const USAGE = `Local shardsync stack: Kafka (KRaft, from Maven jars), one s3proxy per datacenter, Redis.

usage: node --import tsx infra/src/cli.ts <command> [options]

commands:
  up               start every server that does not run yet; wait until all answer
  status           table of servers (exit 1 if any is unhealthy); --json for machines
  down             stop every server the stack started (a Redis it found running is left alone)
  wipe             down, then delete the state directory (all Kafka, S3 and Redis data of the stack)
  start <server>   start one server: kafka, redis or a datacenter name (dc-b)
  stop <server>    stop one server; its data stays

options:
  --json               print the status as JSON (up, status)
  --topology <path>    topology file (default: $SHARDSYNC_TOPOLOGY, else ./shardsync.topology.yaml of the repo)
  --state-dir <dir>    logs, pid files, data (default: $SHARDSYNC_STATE_DIR, else <repo>/.shardsync-state)
  --timeout-ms <n>     how long each server may take to answer (default: 120000)

environment: SHARDSYNC_CACHE_DIR (jars, default ~/.cache/shardsync), SHARDSYNC_KAFKA_VERSION,
SHARDSYNC_KAFKA_CONTROLLER_PORT, SHARDSYNC_S3PROXY_VERSION, SHARDSYNC_S3PROXY_PROVIDER.`;

export type CliCommand =
  | { command: 'help' }
  | { command: 'up' | 'status' | 'down' | 'wipe'; json: boolean; options: StackOptions }
  | { command: 'start' | 'stop'; server: string; json: boolean; options: StackOptions };

const usageError = (message: string) => new InfraError('SHARDSYNC_INFRA_USAGE', `${message}\n\n${USAGE}`);

/** Parses the command line (without the node and script arguments). */
export function parseCliArgs(argv: readonly string[]): CliCommand {
  const positional: string[] = [];
  const options: StackOptions = {};
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const value = (): string => {
      const v = argv[++i];
      // An empty value (`--state-dir "$UNSET"`) would resolve to the working directory, which `wipe` deletes.
      if (v === undefined || v === '' || v.startsWith('--')) throw usageError(`${arg} needs a value`);
      return v;
    };
    if (arg === '-h' || arg === '--help') return { command: 'help' };
    else if (arg === '--json') json = true;
    else if (arg === '--topology') options.topologyPath = value();
    else if (arg === '--state-dir') options.stateDir = value();
    else if (arg === '--timeout-ms') {
      const raw = value();
      const n = Number(raw);
      if (!Number.isInteger(n) || n <= 0) throw usageError(`--timeout-ms needs a positive whole number, got "${raw}"`);
      options.readyTimeoutMs = n;
    } else if (arg.startsWith('-')) throw usageError(`unknown option ${arg}`);
    else positional.push(arg);
  }
  const [command, server, ...rest] = positional;
  if (command === undefined || command === 'help') return { command: 'help' };
  if (command === 'start' || command === 'stop') {
    if (server === undefined) throw usageError(`${command} needs a server name: kafka, redis or a datacenter name`);
    if (rest.length > 0) throw usageError(`unexpected arguments: ${rest.join(' ')}`);
    return { command, server, json, options };
  }
  if (command === 'up' || command === 'status' || command === 'down' || command === 'wipe') {
    if (server !== undefined) throw usageError(`unexpected arguments: ${[server, ...rest].join(' ')}`);
    return { command, json, options };
  }
  throw usageError(`unknown command "${command}"`);
}

/** Runs one command; resolves to the process exit code. */
export async function runCli(argv: readonly string[], out: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  let cli: CliCommand;
  try {
    cli = parseCliArgs(argv);
  } catch (error) {
    process.stderr.write(`${describeError(error)}\n`);
    return 2;
  }
  if (cli.command === 'help') {
    out(`${USAGE}\n`);
    return 0;
  }
  try {
    switch (cli.command) {
      case 'up':
      case 'status': {
        const status = cli.command === 'up' ? await stackUp(cli.options) : await stackStatus(cli.options);
        out(cli.json ? `${JSON.stringify(status, null, 2)}\n` : `${formatStatusTable(status)}\n`);
        return status.healthy ? 0 : 1;
      }
      case 'down': {
        const outcomes = await stackDown(cli.options);
        if (cli.json) out(`${JSON.stringify(outcomes, null, 2)}\n`);
        return 0;
      }
      case 'wipe': {
        const result = await stackWipe(cli.options);
        if (cli.json) out(`${JSON.stringify(result, null, 2)}\n`);
        return 0;
      }
      case 'start':
      case 'stop': {
        const outcome = cli.command === 'start' ? await startServer(cli.server, cli.options) : await stopServer(cli.server, cli.options);
        out(cli.json ? `${JSON.stringify({ server: cli.server, outcome })}\n` : `${cli.server}: ${outcome}\n`);
        return 0;
      }
    }
  } catch (error) {
    const foreign = (error as { code?: unknown }).code;
    const code = isInfraError(error) ? error.code : typeof foreign === 'string' ? foreign : 'ERROR';
    process.stderr.write(`error [${code}]: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  const code = await runCli(process.argv.slice(2));
  // Clients are closed, but an SDK keep-alive socket must not hold a finished command open.
  process.exit(code);
}
