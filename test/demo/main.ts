/**
 * `npm start`: shardsync end to end on one machine (issue 6). Wiring only; each step lives in its
 * own module of this folder. Run `npm start -- --help` for the options.
 */
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTopology, type Topology } from '@shardsync/config';
import { Cleanup } from './cleanup.js';
import { damageDatacenter } from './damage.js';
import { GroupLag } from './kafka-lag.js';
import { converged, datasetDigest, renderInventories, takeInventories, type Inventory } from './inventory.js';
import { DEMO_USAGE, parseDemoArgs, type CompiledDemoOptions } from './options.js';
import { ProducerClient } from './producer-client.js';
import { ProgressView, waitForCatchUp, waitForNoLag } from './progress.js';
import { createReconciliation } from './reconcile.js';
import { Services } from './services.js';
import { ensureStack, type RunningStack } from './stack.js';
import { renderTable } from './table.js';
import { formatBytes, formatSeconds } from './units.js';
import { Workload } from './workload.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The services get the environment as it was given; this process silences the AWS SDK's notice about Node 22. */
const childEnv: NodeJS.ProcessEnv = { ...process.env };
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
const out = process.stdout;
const say = (line = '') => out.write(`${line}\n`);
const step = (n: number, of: number, title: string) => say(`\n== ${n}/${of} ${title}`);

class Interrupted extends Error {}

/** What a second Ctrl-C kills at once. */
const forceKills: Array<() => void> = [];

/** Prints where everything listens, for exploring by hand. */
function printEndpoints(topology: Topology, stack: RunningStack, services: Services, token: string): void {
  say(`producer   ${services.producer.url}   (datacenter ${services.producerDatacenter})`);
  say(`token      ${token}`);
  say(`           curl -X PUT -H 'Authorization: Bearer ${token}' --data-binary @file ${services.producer.url}/v1/objects/models/my/key`);
  for (const [dc, c] of services.consumers) say(`consumer   ${dc}: ${c.url}/metrics`);
  if (services.reconciler !== undefined) say(`reconciler ${services.reconciler.url}`);
  say(renderTable(['DATACENTER', 'S3 ENDPOINT', 'BUCKET'], topology.datacenters.map((d) => [d.name, d.s3.endpoint, d.s3.bucket])));
  say(`kafka      ${stack.status.kafka.bootstrap}, topic ${topology.kafka.topics.updates}; redis ${stack.status.redis.url}`);
  say(`logs       ${join(stack.status.stateDir, 'logs')}`);
}

/** How to stop what --keep-running left up: the services by pid, and the stack if this run started it. */
function printStop(stack: RunningStack, services: Services): void {
  const pids = services.all().map((c) => c.pid);
  say(`stop it with: kill ${pids.join(' ')}${stack.startedHere.length > 0 ? ' && npm run stack:down' : ''}`);
}

function waitForSignal(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
}

/** Set once the run succeeded with --keep-running: cleanup then leaves everything up. After a failure, everything stops. */
interface KeepState {
  keep: boolean;
}

async function run(options: CompiledDemoOptions, cleanup: Cleanup, signal: AbortSignal, state: KeepState): Promise<boolean> {
  const topologyPath = resolve(process.env['SHARDSYNC_TOPOLOGY'] || join(REPO_ROOT, 'shardsync.topology.yaml')); // '' counts as unset
  const topology = loadTopology({ path: topologyPath });
  const datasets = topology.datasets.map((d) => d.name);
  const steps = options.workload ? (options.damage ? 6 : 4) : 2;

  step(1, steps, `local stack (${topology.datacenters.map((d) => d.name).join(', ')}, Kafka, Redis)`);
  const stack = await ensureStack({ topologyPath, log: (l) => say(`  ${l}`) }, (l) => say(`  ${l}`), (stop) => cleanup.add('local stack', () => (state.keep ? Promise.resolve() : stop())));
  signal.throwIfAborted();

  step(2, steps, 'shardsync services (built dist, one process each)');
  const token = randomBytes(16).toString('hex');
  const services = await Services.start({
    repoRoot: REPO_ROOT,
    topology,
    topologyPath,
    env: childEnv,
    logDir: join(stack.status.stateDir, 'logs', 'demo'),
    token,
    log: (l) => say(`  ${l}`),
    signal,
  });
  forceKills.push(() => services.all().forEach((c) => c.killNow()));
  cleanup.add('services', () => {
    if (!state.keep) return services.close();
    for (const c of services.all()) c.detach();
    return Promise.resolve();
  });
  // A service that dies on its own ends the run with its log, instead of a hang.
  const crashed = services.firstUnexpectedExit().then((why) => {
    throw new Error(`a service stopped unexpectedly: ${why}`);
  });
  crashed.catch(() => undefined);
  const guard = <T>(p: Promise<T>): Promise<T> => Promise.race([p, crashed]);

  if (!options.workload) {
    say();
    printEndpoints(topology, stack, services, token);
    if (options.keepRunning) {
      state.keep = true;
      printStop(stack, services);
      return true;
    }
    say('\nrunning; Ctrl-C stops every process this run started');
    await guard(waitForSignal(signal));
    return true;
  }

  step(3, steps, `workload: emulated microservices write ${formatBytes(options.size)}${options.durationMs === undefined ? '' : ` (at most ${formatSeconds(options.durationMs)})`}`);
  const groupLag = new GroupLag(topology.kafka.brokers, topology.kafka.topics.updates);
  cleanup.add('kafka admin', () => groupLag.close());
  const kafkaLag = async (dcs: readonly string[]) => {
    const byGroup = await groupLag.lagOf(dcs.map((dc) => `shardsync.dc.${dc}`));
    return new Map(dcs.map((dc) => [dc, byGroup.get(`shardsync.dc.${dc}`)]));
  };
  const reconciliation = createReconciliation(REPO_ROOT, topology, { ...childEnv, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
  cleanup.add('reconciliation', () => reconciliation.close());

  // A store that is not fresh (an earlier run) keeps what this run does not overwrite or delete:
  // let the consumers finish what is in the topic, then take that state as the starting point.
  await guard(waitForNoLag(kafkaLag, [...services.consumers.keys()], options.catchUpTimeoutMs, signal));
  let before = await guard(takeInventories(topology.datacenters, datasets));
  if (new Set(before.map((i) => i.digest)).size > 1) {
    say('  the datacenters differ before the run (an earlier run was interrupted?); repairing first:');
    const outcome = await guard(reconciliation.pass(datasets, { deep: true }));
    if (!outcome.converged) say(outcome.text.split('\n').map((l) => `  ${l}`).join('\n'));
    before = await guard(takeInventories(topology.datacenters, datasets));
  }
  const initial = before[0]?.objects ?? new Map<string, string>();
  if (initial.size > 0) {
    say(`  the datasets already hold ${initial.size} objects from earlier runs; they count as written:`);
    say(renderInventories(before, initial).split('\n').map((l) => `  ${l}`).join('\n'));
  }
  const workload = new Workload(new ProducerClient(services.producer.url, token), { totalBytes: options.size, durationMs: options.durationMs, initial, signal });
  const view = new ProgressView({ consumers: new Map([...services.consumers].map(([dc, c]) => [dc, c.url])), workload: workload.stats, out, kafkaLag });
  view.start();
  try {
    await guard(workload.run());
    view.phase = 'catching up';
    await guard(waitForCatchUp(view, [...services.consumers.keys()], workload.stats.events, options.catchUpTimeoutMs, signal));
    view.phase = 'replicated';
  } finally {
    await view.stop();
  }
  const replicatedIn = Date.now() - workload.stats.startedAtMs;
  say(`replicated ${workload.stats.events} events (${formatBytes(workload.stats.bytes)}) to ${services.consumers.size} datacenters in ${formatSeconds(replicatedIn)}`);

  step(4, steps, 'every datacenter, read back byte by byte');
  const expected = workload.expected;
  const expectedDigest = datasetDigest(expected);
  let inventories: Inventory[] = await guard(takeInventories(topology.datacenters, datasets));
  say(renderInventories(inventories, expected));

  if (options.damage) {
    const victim = topology.datacenters.at(-1);
    if (victim === undefined) throw new Error('no datacenter to damage');
    step(5, steps, `damage ${victim.name} behind shardsync's back`);
    const victimInventory = inventories.find((i) => i.datacenter === victim.name);
    const candidates = new Map([...(victimInventory?.sizes ?? [])].filter(([key]) => key.startsWith('models/')));
    const damage = await damageDatacenter(stack.status.stateDir, victim, candidates);
    say(`  deleted   ${damage.deleted} (S3 DeleteObject, no event)`);
    say(`  corrupted ${damage.corrupted} (16 bytes flipped in ${damage.corruptedFile}; size, ETag and metadata unchanged)`);
    inventories = await guard(takeInventories(topology.datacenters, datasets));
    say(renderInventories(inventories, expected));

    step(6, steps, `reconciliation pass, deep (re-reads bytes), via ${reconciliation.via === 'cli' ? 'the shardsync CLI' : '@shardsync/reconcile (the CLI is not built yet)'}`);
    const started = Date.now();
    const outcome = await guard(reconciliation.pass(datasets, { deep: true }));
    say(outcome.text.split('\n').map((l) => `  ${l}`).join('\n'));
    say(`  -> ${outcome.converged ? 'the datacenters agree' : 'DIVERGENCE REMAINS'} (${formatSeconds(Date.now() - started)})\n`);
    say('final state, read back byte by byte:');
    inventories = await guard(takeInventories(topology.datacenters, datasets));
    say(renderInventories(inventories, expected));
  }

  const ok = converged(inventories, expectedDigest);
  say(ok ? `\nCONVERGED: every datacenter holds exactly the ${expected.size} objects written (digest ${expectedDigest.slice(0, 16)})` : '\nNOT CONVERGED: see the table above');
  if (options.keepRunning) {
    state.keep = true;
    say('\n--keep-running: everything stays up');
    printEndpoints(topology, stack, services, token);
    printStop(stack, services);
  }
  return ok;
}

async function main(): Promise<number> {
  let options: CompiledDemoOptions | 'help';
  try {
    options = parseDemoArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  if (options === 'help') {
    say(DEMO_USAGE);
    return 0;
  }

  const cleanup = new Cleanup();
  const keepState: KeepState = { keep: false };
  const abort = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      say(`\n${sig}: stopping every process this run started (again to force)`);
      abort.abort(new Interrupted(sig));
    } else {
      for (const kill of forceKills) kill();
      process.stderr.write('killed the services; the local stack may still run: npm run stack:down\n');
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let code: number;
  try {
    code = (await run(options, cleanup, abort.signal, keepState)) ? 0 : 1;
    if (abort.signal.aborted && options.workload) code = 130;
  } catch (err) {
    if (abort.signal.aborted) {
      code = 130;
    } else {
      process.stderr.write(`\nshardsync demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
      code = 1;
    }
  }
  if (abort.signal.aborted) keepState.keep = false;
  if (!keepState.keep) say('\nstopping the services and the servers this run started...');
  const failures = await cleanup.run();
  for (const f of failures) process.stderr.write(`cleanup: ${f}\n`);
  return failures.length > 0 && code === 0 ? 1 : code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`shardsync demo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
