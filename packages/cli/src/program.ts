import { Command, CommanderError, Option } from 'commander';
import { bootstrap } from './commands/bootstrap.js';
import { dlqDiscard } from './commands/dlq-discard.js';
import { parsePositions } from './dlq/positions.js';
import { dlqList } from './commands/dlq-list.js';
import { tombstoneGraceFromEnv } from './commands/common.js';
import { dlqReplay } from './commands/dlq-replay.js';
import { init } from './commands/init.js';
import { plan, type PlanArgs } from './commands/plan.js';
import { reconcile } from './commands/reconcile.js';
import { status } from './commands/status.js';
import { verify } from './commands/verify.js';
import { CliContext } from './context.js';
import { describeError, UsageError, type HintContext } from './errors.js';
import { ExitCode } from './exit-codes.js';
import { formatError, formatResult, type CommandResult } from './output.js';
import { silentProgress, TerminalProgress } from './progress.js';
import { parseDuration, parseInteger, parseRate } from './units.js';

/** A stream the CLI writes to; `isTTY` decides whether progress is drawn. */
export interface CliStream {
  write(text: string): boolean;
  readonly isTTY?: boolean | undefined;
  readonly columns?: number | undefined;
}

/** The process around the CLI, injectable for tests. */
export interface CliIO {
  readonly stdout: CliStream;
  readonly stderr: CliStream;
  /** Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Aborts long work (Ctrl-C). */
  readonly signal?: AbortSignal | undefined;
}

interface GlobalOptions {
  topology?: string;
  json?: boolean;
  verbose?: boolean;
}

type Run = (ctx: CliContext) => Promise<CommandResult> | CommandResult;

/** Parses `--bytes-per-second`: a plain number of bytes, or a rate with a unit (`50MB/s`). */
function bytesPerSecond(text: string): number {
  return /^\s*\d+\s*$/.test(text) ? parseInteger(text, '--bytes-per-second', 1) : parseRate(text, '--bytes-per-second');
}

/** `--tombstone-grace`, else the consumers' SHARDSYNC_TOMBSTONE_GRACE_MS (milliseconds), else undefined: the default. */
function tombstoneGraceOf(option: string | undefined, env: NodeJS.ProcessEnv): number | undefined {
  return option === undefined ? tombstoneGraceFromEnv(env) : parseDuration(option, '--tombstone-grace');
}

/**
 * Builds the `shardsync` program. Each action stores its exit code in `state`, since commander
 * itself knows only success and its own parse errors.
 */
function buildProgram(io: CliIO, state: { exitCode: number }): Command {
  const env = io.env ?? process.env;

  const execute = async (command: Command, name: string, run: Run): Promise<void> => {
    const globals = command.optsWithGlobals<GlobalOptions>();
    const json = globals.json === true;
    const ctx = new CliContext({
      topologyPath: globals.topology,
      env,
      progress: io.stdout.isTTY === true && !json ? new TerminalProgress(io.stderr) : silentProgress,
      log: globals.verbose === true ? (line) => io.stderr.write(`${line}\n`) : undefined,
      signal: io.signal,
    });
    try {
      const result = await run(ctx);
      ctx.progress.stop();
      io.stdout.write(formatResult(result, json));
      state.exitCode = result.exitCode;
    } catch (err) {
      ctx.progress.stop();
      const out = formatError(name, describeError(err, hintContext(ctx)), json);
      (out.stream === 'stdout' ? io.stdout : io.stderr).write(out.text);
      state.exitCode = ExitCode.error;
    } finally {
      await ctx.close();
    }
  };

  const program = new Command()
    .name('shardsync')
    .description('Operate shardsync: replication of large objects across datacenters through Kafka.')
    .option('--topology <file>', 'topology file (default: $SHARDSYNC_TOPOLOGY, else ./shardsync.topology.yaml)')
    .option('--json', 'print machine-readable JSON on stdout (errors too)')
    .option('--verbose', 'print Kafka client warnings on stderr')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok; 1 the datacenters disagree or something is unhealthy; 2 the command failed (the message says why) or was interrupted; 3 a key asked about is in no datacenter (verify, reconcile --key).',
    )
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void io.stderr.write(s) });

  program
    .command('status')
    .description('per datacenter: consumer lag (events and age), consumers running, store reachability; dead letters; last reconcile pass')
    .option('--no-age', 'do not read the oldest unapplied events to report their age')
    .option('--max-lag <events>', 'report a problem (exit 1) when a datacenter lags by more events')
    .option('--max-age <duration>', 'report a problem (exit 1) when the oldest unapplied event is older, e.g. 5min')
    .option('--age-timeout <duration>', 'time allowed for reading the oldest unapplied events', '10s')
    .action((o: { age: boolean; maxLag?: string; maxAge?: string; ageTimeout: string }, command: Command) =>
      execute(command, 'status', (ctx) =>
        status(ctx, {
          age: o.age,
          maxLag: o.maxLag === undefined ? undefined : parseInteger(o.maxLag, '--max-lag'),
          maxAgeMs: o.maxAge === undefined ? undefined : parseDuration(o.maxAge, '--max-age'),
          ageTimeoutMs: parseDuration(o.ageTimeout, '--age-timeout'),
        }),
      ),
    );

  program
    .command('reconcile')
    .description('run one reconciliation pass per dataset (the code the scheduled job runs) and print its report')
    .option('--dataset <name>', 'only this dataset (default: every dataset)')
    .option('--datacenter <name>', 'repair only this datacenter; the others are compared and serve as sources')
    .option('--prefix <prefix>', 'only keys that start with this prefix, relative to the dataset ("tmp/a.bin" also matches "tmp/a.bin.keep")')
    .addOption(
      new Option('--key <key>', 'only exactly this key, relative to the dataset (requires --dataset; repeat for more keys)')
        .argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value])
        .conflicts('prefix'),
    )
    .option('--dry-run', 'report what would be repaired; change nothing')
    .option('--deep', 're-read every object to find corrupted bytes')
    .option('--bytes-per-second <rate>', 'read budget of --deep, e.g. 52428800 or 50MB/s (default 100 MiB/s)')
    .addOption(new Option('--adopt-unmanaged', 'give objects shardsync never wrote a version, so they replicate').conflicts('removeUnmanaged'))
    .addOption(new Option('--remove-unmanaged', 'delete objects shardsync never wrote').conflicts('adoptUnmanaged'))
    .option('--ignore-pass-lock', "run even if another pass of the dataset holds its pass lock (for a holder known to be gone)")
    .addHelpText('after', '\nExit codes: 0 the datacenters agree at the end; 1 divergence remains (always, for a dry run that found some); 2 error (another pass of a dataset running included); 3 they agree, but a --key is in no datacenter (a typo?).')
    .action(
      (
        o: {
          dataset?: string;
          datacenter?: string;
          prefix?: string;
          key?: string[];
          dryRun?: boolean;
          deep?: boolean;
          bytesPerSecond?: string;
          adoptUnmanaged?: boolean;
          removeUnmanaged?: boolean;
          ignorePassLock?: boolean;
        },
        command: Command,
      ) =>
        execute(command, 'reconcile', (ctx) =>
          reconcile(ctx, {
            dataset: o.dataset,
            datacenter: o.datacenter,
            prefix: o.prefix,
            keys: o.key,
            dryRun: o.dryRun,
            deep: o.deep,
            bytesPerSecond: o.bytesPerSecond === undefined ? undefined : bytesPerSecond(o.bytesPerSecond),
            unmanaged: o.adoptUnmanaged === true ? 'adopt' : o.removeUnmanaged === true ? 'remove' : 'report',
            ignorePassLock: o.ignorePassLock,
          }),
        ),
    );

  program
    .command('verify')
    .description('show one key in every datacenter: version, SHA-256, size, tombstone')
    .argument('<dataset>', 'dataset name')
    .argument('<key>', 'object key, relative to the dataset')
    .option('--deep', "also read every copy's bytes and check its SHA-256")
    .addHelpText('after', '\nExit codes: 0 every datacenter holds the same state (tombstones everywhere included); 1 they disagree; 2 a datacenter could not be read; 3 no datacenter holds the key, neither an object nor a tombstone (a typo?).')
    .action((dataset: string, key: string, o: { deep?: boolean }, command: Command) => execute(command, 'verify', (ctx) => verify(ctx, dataset, key, { deep: o.deep })));

  const dlq = program.command('dlq').description('inspect, replay and discard dead-lettered events');
  dlq
    .command('list')
    .description('list dead letters, oldest first (reads without committing)')
    .option('--limit <n>', 'show at most this many letters', '100')
    .option('--datacenter <name>', 'only letters of this datacenter')
    .option('--code <code>', 'only letters with this error code')
    .action((o: { limit: string; datacenter?: string; code?: string }, command: Command) =>
      execute(command, 'dlq list', (ctx) => dlqList(ctx, { limit: parseInteger(o.limit, '--limit', 1), datacenter: o.datacenter, code: o.code })),
    );
  dlq
    .command('replay')
    .description('send dead letters back to the updates topic (each update once; never the same letter twice)')
    .option('--datacenter <name>', 'only letters of this datacenter')
    .option('--code <code>', 'only letters with this error code')
    .option('--dry-run', 'show what would be replayed; send and record nothing')
    .option('--tombstone-grace <duration>', "the consumers' SHARDSYNC_TOMBSTONE_GRACE_MS; older puts are not replayed (default: that variable, else 7d)")
    .action((o: { datacenter?: string; code?: string; dryRun?: boolean; tombstoneGrace?: string }, command: Command) =>
      execute(command, 'dlq replay', (ctx) =>
        dlqReplay(ctx, { datacenter: o.datacenter, code: o.code, dryRun: o.dryRun, tombstoneGraceMs: tombstoneGraceOf(o.tombstoneGrace, ctx.env) }),
      ),
    );
  dlq
    .command('discard')
    .description('give up dead letters that must never be replayed: replay skips them and status stops counting them; they stay listed as discarded')
    .option('--datacenter <name>', 'only letters of this datacenter')
    .option('--code <code>', 'only letters with this error code')
    .option('--all', 'every pending letter (required when neither --datacenter nor --code is given)')
    .option('--dry-run', 'show what would be discarded; record nothing')
    .option('--yes', 'confirm: discard the matching letters (required unless --dry-run)')
    .option('--through <positions>', "read no further than these offsets (partition:offset,...), as the dry run prints them; partitions not named are not read")
    .addHelpText(
      'after',
      '\nPrints every letter it discarded. Run it with --dry-run first, then the command the dry run prints: the same one with --yes and\n--through, so that letters dead-lettered after the dry run are not discarded unseen.',
    )
    .action((o: { datacenter?: string; code?: string; all?: boolean; dryRun?: boolean; yes?: boolean; through?: string }, command: Command) =>
      execute(command, 'dlq discard', (ctx) =>
        dlqDiscard(ctx, { datacenter: o.datacenter, code: o.code, all: o.all, dryRun: o.dryRun, yes: o.yes, through: o.through === undefined ? undefined : parsePositions(o.through) }),
      ),
    );

  program
    .command('bootstrap')
    .description('fill an empty or new datacenter from its peers (resumable: run it again to continue)')
    .requiredOption('--datacenter <name>', 'the datacenter to fill')
    .option('--dataset <name>', 'only this dataset (default: every dataset the datacenter holds)')
    .option('--dry-run', 'report what would be copied; copy nothing')
    .option('--ignore-pass-lock', "run even if another pass of the dataset holds its pass lock (for a holder known to be gone)")
    .addHelpText('after', '\nExit codes: 0 the datacenter is complete; 1 not yet (run again); 2 error (another pass of a dataset running included).')
    .action((o: { datacenter: string; dataset?: string; dryRun?: boolean; ignorePassLock?: boolean }, command: Command) =>
      execute(command, 'bootstrap', (ctx) => bootstrap(ctx, { datacenter: o.datacenter, dataset: o.dataset, dryRun: o.dryRun, ignorePassLock: o.ignorePassLock })),
    );

  program
    .command('plan')
    .description('predict replication time with the capacity model (see the assumptions it prints)')
    .requiredOption('--size <size>', 'data set size, e.g. 1GiB')
    .requiredOption('--shard <size>', 'shard size, e.g. 10MiB')
    .requiredOption('--datacenters <n>', 'datacenters holding the data set, the origin included')
    .requiredOption('--bandwidth <rate>', 'link bandwidth, e.g. 100MB/s or 1Gbit/s')
    .requiredOption('--rtt <duration>', 'round-trip time between datacenters, e.g. 100ms')
    .option('--concurrency <n>', 'shards in flight per peer datacenter (default 8: SHARDSYNC_CONSUMER_MAX_TRANSFERS of one consumer instance; times the instances per datacenter)')
    .option('--per-shard-overhead-ms <ms>', 'latency per shard besides its bytes (default 2 x RTT + 5 ms)')
    .option('--tcp-window <size>', 'largest TCP window of one stream (default 4MiB)')
    .addOption(new Option('--link <kind>', 'whether peers share the origin link or have one each').choices(['shared', 'per-peer']).default('shared'))
    .action((o: PlanArgs, command: Command) => execute(command, 'plan', () => plan(o)));

  program
    .command('init')
    .description('create the Kafka topics and each datacenter bucket that are missing (idempotent)')
    .action((_o: unknown, command: Command) => execute(command, 'init', (ctx) => init(ctx)));

  return program;
}

function hintContext(ctx: CliContext): HintContext {
  try {
    const brokersFrom = (ctx.env['SHARDSYNC_KAFKA_BROKERS'] ?? '') === '' ? undefined : 'SHARDSYNC_KAFKA_BROKERS';
    return { topologyFile: ctx.topologyFile, brokers: ctx.topology.kafka.brokers, brokersFrom };
  } catch {
    return { topologyFile: ctx.topologyFile };
  }
}

/**
 * Runs the CLI with `args` (without the node and script paths) and returns the exit code:
 * 0 ok, 1 divergence or unhealthy, 2 error (including bad arguments).
 */
export async function runCli(args: readonly string[], io: CliIO): Promise<number> {
  const state = { exitCode: ExitCode.ok as number };
  const program = buildProgram(io, state);
  try {
    await program.parseAsync([...args], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version are successes; every parse error (unknown option, missing argument or
      // command, which shows the help) is a usage error. Commander printed it on stderr; with
      // --json it is on stdout as JSON too, like every other error.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return ExitCode.ok;
      if (args.includes('--json')) {
        // A missing subcommand shows the help instead of an error message.
        const message = err.code === 'commander.help' ? 'a command is required' : err.message.replace(/^error: /, '');
        io.stdout.write(formatError('', describeError(new UsageError(message, 'add --help for usage')), true).text);
      }
      return ExitCode.error;
    }
    const described = describeError(err instanceof Error ? err : new UsageError(String(err)));
    io.stderr.write(`shardsync: ${described.message}\n`);
    return ExitCode.error;
  }
  return state.exitCode;
}
