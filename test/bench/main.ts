/**
 * `npm run bench [scenario...]`: the benchmark harness of issue 6 (and the benchmarks asked for in
 * issues 3, 4 and 5). Separate from the tests. Run `npm run bench -- --help`.
 */
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTopology } from '@shardsync/config';
import { DEFAULT_KAFKA_VERSION, DEFAULT_S3PROXY_VERSION } from '@shardsync/infra';
import { ensureStack } from '../demo/stack.js';
import { formatSeconds } from '../demo/units.js';
import { capacitySection } from './capacity.js';
import { type BenchContext, benchEnv, closeStores, stopAllBenchServices } from './context.js';
import { benchKafka, warmUpGroups } from './kafka.js';
import { latestScenarios, machine, profileSection, renderBenchmarksMd, renderScenarioText, writeRun, type BenchRun } from './report.js';
import { RCLONE_MISSING, rcloneVersion } from './rclone.js';
import type { ScenarioResult } from './results.js';
import { bulkScenario } from './scenarios/bulk.js';
import { ingestScenario } from './scenarios/ingest.js';
import { lagScenario } from './scenarios/lag.js';
import { memoryScenario } from './scenarios/memory.js';
import { reconcileScenario } from './scenarios/reconcile.js';
import { smallScenario } from './scenarios/small.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Scenario {
  readonly name: string;
  readonly needsRclone: boolean;
  readonly run: (ctx: BenchContext, previous: ReadonlyMap<string, ScenarioResult>) => Promise<ScenarioResult>;
}

/** In this order: `lag` uses the sustainable rate `small` measured just before. */
const SCENARIOS: readonly Scenario[] = [
  { name: 'ingest', needsRclone: false, run: (ctx) => ingestScenario(ctx) },
  { name: 'bulk', needsRclone: true, run: (ctx) => bulkScenario(ctx) },
  { name: 'small', needsRclone: false, run: (ctx) => smallScenario(ctx) },
  { name: 'lag', needsRclone: false, run: (ctx, previous) => lagScenario(ctx, previous.get('small')) },
  { name: 'memory', needsRclone: false, run: (ctx) => memoryScenario(ctx) },
  { name: 'reconcile', needsRclone: true, run: (ctx) => reconcileScenario(ctx) },
];

const USAGE = `Usage: npm run bench -- [scenario ...] [options]

Scenarios (default: all, in this order): ${SCENARIOS.map((s) => s.name).join(', ')}
  ingest     1 KiB puts/s through the producer at 1/8/64 clients vs a bare kafkajs sendBatch loop;
             producer peak RSS streaming a 2 GiB body
  bulk       1 GiB in 10 MiB shards from dc-a to three more datacenters vs raw parallel PutObject
             into the same four stores, and vs rclone copy fanning out from dc-a; CPU s per GiB
  small      1 KiB updates replicated to three datacenters, objects/s vs raw PutObject
  lag        at half the small rate: 202-to-readable-everywhere p50/p99/max vs raw PutObject latency
  memory     peak RSS of the producer and the consumers while one 1 GiB shard passes
  reconcile  routine pass over 100,000 objects x 3 datacenters with 0.1% divergence vs rclone check

Options:
  --reps <n>     repetitions per measurement (default 3; the table needs at least 3)
  --quick        small sizes to check the harness; results are not written to BENCHMARKS.md
  --keep-stack   leave the bench's servers running afterwards
  --report-only  rewrite BENCHMARKS.md from the results in bench-results/ without measuring
  --profile      run the services with --cpu-prof and print where their CPU time goes (bulk, small);
                 profiling slows them: use with --quick, not for the published table
  -h, --help

The bench runs its own stack (test/bench/bench.topology.yaml: Kafka 127.0.0.1:28092, S3 servers
127.0.0.1:28001-28004, state in .shardsync-state/bench) and ignores SHARDSYNC_* topology
overrides; SHARDSYNC_BENCH_TOPOLOGY and SHARDSYNC_BENCH_STATE_DIR point it elsewhere.
SHARDSYNC_BENCH_RECONCILE_OBJECTS sets the reconcile scenario's objects per datacenter (default
the issue's 100000; the stores are listed folder by folder, see BENCHMARKS.md).
Needs rclone (bulk, reconcile) and python3 (reconcile seeds its objects on the S3 servers' disks).`;

interface Args {
  scenarios: Scenario[];
  reps: number;
  quick: boolean;
  keepStack: boolean;
  profile: boolean;
  reportOnly: boolean;
}

function parseArgs(argv: readonly string[]): Args | 'help' {
  const args: Args = { scenarios: [], reps: 3, quick: false, keepStack: false, profile: false, reportOnly: false };
  const rest = [...argv];
  while (rest.length > 0) {
    const a = rest.shift() ?? '';
    if (a === '-h' || a === '--help') return 'help';
    else if (a === '--quick') args.quick = true;
    else if (a === '--keep-stack') args.keepStack = true;
    else if (a === '--profile') args.profile = true;
    else if (a === '--report-only') args.reportOnly = true;
    else if (a === '--reps' || a.startsWith('--reps=')) {
      const v = Number(a.includes('=') ? a.slice(7) : rest.shift());
      if (!Number.isInteger(v) || v < 1) throw new Error('--reps needs a whole number >= 1');
      args.reps = v;
    } else {
      const s = SCENARIOS.find((x) => x.name === a);
      if (s === undefined) throw new Error(`unknown scenario or option "${a}"; scenarios: ${SCENARIOS.map((x) => x.name).join(', ')}; see --help`);
      if (!args.scenarios.includes(s)) args.scenarios.push(s);
    }
  }
  if (args.scenarios.length === 0) args.scenarios = [...SCENARIOS];
  else args.scenarios.sort((x, y) => SCENARIOS.indexOf(x) - SCENARIOS.indexOf(y));
  return args;
}

/** BENCHMARKS.md from the latest result of every scenario in bench-results/. */
async function writeBenchmarksMd(env: NodeJS.ProcessEnv): Promise<void> {
  const latest = await latestScenarios(REPO_ROOT);
  const md = renderBenchmarksMd(latest, SCENARIOS.map((s) => s.name), `${await capacitySection({ repoRoot: REPO_ROOT, env }, latest)}\n${await profileSection(REPO_ROOT)}`);
  await writeFile(join(REPO_ROOT, 'BENCHMARKS.md'), md);
}

async function main(): Promise<number> {
  let args: Args | 'help';
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (args.reportOnly) {
    await writeBenchmarksMd(benchEnv('', ''));
    process.stdout.write('BENCHMARKS.md rewritten from bench-results/\n');
    return 0;
  }
  const log = (line: string) => process.stdout.write(`[bench ${formatSeconds(Date.now() - startedMs).padStart(6)}] ${line}\n`);
  const startedMs = Date.now();

  const rclone = await rcloneVersion();
  if (rclone === undefined && args.scenarios.some((s) => s.needsRclone)) {
    process.stderr.write(`bench: ${RCLONE_MISSING}\n`);
    return 2;
  }

  const topologyPath = resolve(process.env['SHARDSYNC_BENCH_TOPOLOGY'] ?? join(REPO_ROOT, 'test', 'bench', 'bench.topology.yaml'));
  const stateDir = resolve(process.env['SHARDSYNC_BENCH_STATE_DIR'] ?? join(REPO_ROOT, '.shardsync-state', 'bench'));
  const env = benchEnv(topologyPath, stateDir);
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
  const topology = loadTopology({ path: topologyPath, env });

  log(`stack: ${topology.datacenters.length} datacenters from ${topologyPath}, state in ${stateDir}`);
  const stack = await ensureStack({ topologyPath, stateDir, env, log: (l) => log(`  ${l}`) }, (l) => log(`  ${l}`));
  const profileDir = args.profile ? join(stateDir, 'profiles', new Date(startedMs).toISOString().replace(/[:.]/g, '-')) : undefined;
  const ctx: BenchContext = { repoRoot: REPO_ROOT, topology, topologyPath, stateDir, env, stack, reps: args.reps, quick: args.quick || args.profile, profileDir, log };

  const keepStack = args.keepStack;
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log('interrupted: stopping the services and the servers the bench started (again to force)');
    void stopAllBenchServices()
      .then(() => (keepStack ? undefined : stack.stop()))
      .finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const results: ScenarioResult[] = [];
  const byName = new Map<string, ScenarioResult>();
  // lag runs at half the rate small measured: from this run, else from the latest full run on record.
  const recorded = ctx.quick ? undefined : (await latestScenarios(REPO_ROOT)).get('small');
  if (recorded !== undefined && !args.scenarios.some((s) => s.name === 'small')) byName.set('small', { ...recorded.result, title: `${recorded.result.title} (run of ${recorded.run.startedAt})` });
  try {
    await warmUpGroups(benchKafka(topology.kafka.brokers, 'shardsync-bench-warmup'));
    for (const scenario of args.scenarios) {
      log(`== ${scenario.name}`);
      const t = Date.now();
      let result: ScenarioResult;
      try {
        result = await scenario.run(ctx, byName);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        log(`${scenario.name} failed: ${err instanceof Error ? (err.stack ?? message) : message}`);
        result = { scenario: scenario.name, title: scenario.name, repetitions: 0, durationSeconds: (Date.now() - t) / 1000, figures: [], details: {}, error: message.split('\n')[0] ?? message };
      } finally {
        await stopAllBenchServices();
      }
      results.push(result);
      byName.set(scenario.name, result);
      process.stdout.write(`\n${renderScenarioText(result)}\n\n`);
    }
  } finally {
    closeStores();
    if (!args.keepStack) await stack.stop().catch((err: unknown) => log(`stopping the stack: ${String(err)}`));
  }

  const run: BenchRun = {
    format: 'shardsync.bench.v1',
    startedAt: new Date(startedMs).toISOString(),
    finishedAt: new Date().toISOString(),
    durationSeconds: (Date.now() - startedMs) / 1000,
    machine: machine(),
    versions: { kafka: DEFAULT_KAFKA_VERSION, s3proxy: DEFAULT_S3PROXY_VERSION, ...(rclone === undefined ? {} : { rclone: rclone.replace(/^rclone\s+/, '') }) },
    repetitions: args.reps,
    quick: args.quick || args.profile,
    scenarios: results,
  };
  const file = await writeRun(REPO_ROOT, run);
  log(`results: ${file}`);
  if (!ctx.quick) {
    await writeBenchmarksMd(env);
    log('BENCHMARKS.md updated');
  } else {
    log('--quick: BENCHMARKS.md left as it is');
  }
  log(`done in ${formatSeconds(Date.now() - startedMs)}`);
  return results.some((r) => r.error !== undefined) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
