/**
 * `npm run bench:ab -- <build> [<build> ...]`: the producer's CPU per update and puts/s, build
 * against build, on the bench's own stack. Each build is a checkout that has been built (`npm ci
 * && npm run build`, e.g. a `git worktree` of the commit to compare with); `<dir>:<n>` runs that
 * build with a client sending at most n batch requests at once. The builds take turns, repetition
 * by repetition, so a machine that slows down or speeds up meanwhile weighs on each alike; read
 * medians, and only differences beyond the spread of one build's repetitions (often ±15% here).
 *
 * Not part of `npm run bench`: a tool for deciding whether a change to the ingest path pays off
 * (docs/capacity-model.md, "Ingest").
 */
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ShardsyncClient } from '@shardsync/client';
import { loadTopology } from '@shardsync/config';
import { cpuSecondsOf } from '../demo/children.js';
import { Services } from '../demo/services.js';
import { ensureStack } from '../demo/stack.js';
import { benchEnv } from './context.js';
import { closedLoop } from './scenarios/ingest.js';
import { spread } from './stats.js';

const USAGE = `Usage: npm run bench:ab -- [options] <build>[:<maxRequests>] ...
  --reps <n>          repetitions per build, taking turns (default 5)
  --seconds <s>       measured seconds per run (default 8)
  --warm <s>          unmeasured seconds first, for the JIT and the sockets (default 8)
  --concurrency <c>   concurrent put() calls through one batching client (default 64)
  --profile <dir>     write V8 CPU profiles of the producers under <dir>/<rep>-<build index>`;

interface Build {
  readonly label: string;
  readonly root: string;
  readonly maxRequests: number | undefined;
}

interface Run {
  readonly putsPerSecond: number;
  readonly cpuMicrosPerUpdate: number;
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got "${value}"`);
  return n;
}

function parseBuild(arg: string): Build {
  const [root = '', requests] = arg.split(':');
  if (root === '') throw new Error(`"${arg}" names no build directory`);
  return { label: arg, root: resolve(root), maxRequests: requests === undefined ? undefined : positive('maxRequests', requests, 0) };
}

/** Starts `build`'s producer alone, loads it, and measures its CPU over the measured seconds only. */
async function measure(build: Build, context: { env: NodeJS.ProcessEnv; topologyPath: string; stateDir: string; profileDir: string | undefined }, options: { concurrency: number; warmMs: number; measureMs: number }): Promise<Run> {
  const { env, topologyPath, stateDir, profileDir } = context;
  const token = randomBytes(16).toString('hex');
  const services = await Services.start({
    repoRoot: build.root,
    topology: loadTopology({ path: topologyPath, env }),
    topologyPath,
    env: { ...env, SHARDSYNC_KAFKA_TOPIC_UPDATES: 'shardsync.bench.ab', SHARDSYNC_LOG_LEVEL: 'warn' },
    logDir: join(stateDir, 'logs', 'bench', 'ab'),
    consumerDatacenters: [],
    token,
    reconciler: false,
    ports: { producer: 28080, consumerBase: 28110, reconciler: 28100 },
    producerNodeArgs: profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
    log: () => undefined,
  });
  const client = new ShardsyncClient({ baseUrl: services.producer.url, token, batch: build.maxRequests === undefined ? true : { maxRequests: build.maxRequests } });
  try {
    const put = async (key: string, body: Buffer) => {
      await client.put('small', key, body);
    };
    await closedLoop(options.concurrency, options.warmMs, 'ab/warm-up', put);
    const pid = services.producer.child.pid;
    const cpuBefore = cpuSecondsOf(pid) ?? 0;
    const started = performance.now();
    const putsPerSecond = await closedLoop(options.concurrency, options.measureMs, 'ab/measured', put);
    const updates = (putsPerSecond * (performance.now() - started)) / 1000;
    return { putsPerSecond, cpuMicrosPerUpdate: (((cpuSecondsOf(pid) ?? 0) - cpuBefore) / updates) * 1e6 };
  } finally {
    await client.close();
    await services.close();
  }
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { reps: { type: 'string' }, seconds: { type: 'string' }, warm: { type: 'string' }, concurrency: { type: 'string' }, profile: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help === true || positionals.length === 0) {
    process.stdout.write(`${USAGE}\n`);
    return values.help === true ? 0 : 2;
  }
  const builds = positionals.map(parseBuild);
  const reps = Math.round(positive('reps', values.reps, 5));
  const options = { concurrency: Math.round(positive('concurrency', values.concurrency, 64)), warmMs: positive('warm', values.warm, 8) * 1000, measureMs: positive('seconds', values.seconds, 8) * 1000 };
  const repoRoot = resolve(import.meta.dirname, '..', '..');
  const topologyPath = join(repoRoot, 'test', 'bench', 'bench.topology.yaml');
  const stateDir = join(repoRoot, '.shardsync-state', 'bench');
  const env = benchEnv(topologyPath, stateDir);
  const stack = await ensureStack({ topologyPath, stateDir, env, log: (l) => process.stdout.write(`  ${l}\n`) }, (l) => process.stdout.write(`  ${l}\n`));
  const runs = new Map<Build, Run[]>(builds.map((b) => [b, []]));
  try {
    for (let rep = 1; rep <= reps; rep++) {
      for (const [i, build] of builds.entries()) {
        const profileDir = values.profile === undefined ? undefined : resolve(values.profile, `${rep}-${i}`);
        const run = await measure(build, { env, topologyPath, stateDir, profileDir }, options);
        runs.get(build)?.push(run);
        process.stdout.write(`rep ${rep} ${build.label}: ${run.putsPerSecond.toFixed(0)} puts/s, ${run.cpuMicrosPerUpdate.toFixed(0)} µs of producer CPU per update\n`);
      }
    }
  } finally {
    await stack.stop();
  }
  for (const [build, done] of runs) {
    const rate = spread(done.map((r) => r.putsPerSecond));
    const cpu = spread(done.map((r) => r.cpuMicrosPerUpdate));
    process.stdout.write(`${build.label}: ${rate.median.toFixed(0)} puts/s (${rate.min.toFixed(0)}-${rate.max.toFixed(0)}), ${cpu.median.toFixed(0)} µs/update (${cpu.min.toFixed(0)}-${cpu.max.toFixed(0)})\n`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench:ab: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
