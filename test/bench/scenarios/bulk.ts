import { createHash, randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { listObjects, mapLimit } from '../../demo/stores.js';
import { type BenchContext, busyShare, deletePrefixes, diffCpu, machineJiffies, profileSummary, serverCpu, startBenchServices, storeOf } from '../context.js';
import { expectAccepted, ProducerHttp } from '../producer-http.js';
import { rcloneEnv, rcloneParallel, remoteOf } from '../rclone.js';
import type { Figure, ScenarioResult } from '../results.js';
import { pairedRatios, spread } from '../stats.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** Shards PUT to the producer at once (a trainer's ranks saving in parallel). */
const PUT_CONCURRENCY = 8;
/** Requests in flight for the raw baseline: enough to keep four stores busy. */
const RAW_CONCURRENCY = 16;
/** rclone --transfers per destination (its default is 4). */
const RCLONE_TRANSFERS = 8;

interface Shard {
  readonly key: string;
  readonly body: Buffer;
  /** MD5 hex: the ETag of a single-PUT object, the same in every store. */
  md5: string;
}

const sizeTextOf = (n: number) => (n >= GiB ? `${n / GiB} GiB` : `${n / MiB} MiB`);

/** Fresh bytes for each run of each variant, so no content-addressed shortcut (staging reuse) applies. */
function restamp(shards: readonly Shard[], prefix: string): void {
  for (const [i, s] of shards.entries()) {
    randomBytes(32).copy(s.body, 0);
    (s as { key: string }).key = `${prefix}/shard-${String(i).padStart(5, '0')}.bin`;
    s.md5 = createHash('md5').update(s.body).digest('hex');
  }
}

/** Polls the listings until every datacenter holds every shard with the expected ETag. */
async function waitUntilEverywhere(ctx: BenchContext, datacenters: readonly string[], prefix: string, shards: readonly Shard[], timeoutMs: number): Promise<void> {
  const expected = new Map(shards.map((s) => [s.key, `"${s.md5}"`]));
  const done = new Set<string>();
  const deadline = Date.now() + timeoutMs;
  while (done.size < datacenters.length) {
    await Promise.all(
      datacenters
        .filter((dc) => !done.has(dc))
        .map(async (dc) => {
          const { client, bucket } = storeOf(ctx, dc);
          let ok = 0;
          for await (const o of listObjects(client, bucket, `${prefix}/`)) if (expected.get(o.key) === o.etag) ok += 1;
          if (ok === expected.size) done.add(dc);
        }),
    );
    if (done.size === datacenters.length) return;
    if (Date.now() > deadline) throw new Error(`not every datacenter holds every shard after ${timeoutMs / 1000} s (complete: ${[...done].join(', ') || 'none'})`);
    await sleep(200);
  }
}

/**
 * Issue 6's reference case: 1 GiB in 10 MiB shards PUT to the producer in the origin dc-a, until
 * the origin and three more datacenters hold every shard (checked by listing: key and ETag).
 * Baselines in the same run: (a) one process writing the same bytes with parallel PutObject into
 * the same four stores; (b) the bytes already in the origin, `rclone copy` to the three others at
 * once. Both baselines get fresh bytes too.
 */
export async function bulkScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const started = Date.now();
  const total = ctx.quick ? 128 * MiB : GiB;
  const shardSize = 10 * MiB;
  const dataset = ctx.topology.datasets.find((d) => d.name === 'bulk');
  if (dataset === undefined || dataset.datacenters.length < 2) throw new Error('the bench topology needs a dataset "bulk" on several datacenters');
  const [origin, ...peers] = dataset.datacenters;
  if (origin === undefined) throw new Error('no origin');
  const all = [origin, ...peers];
  const shards: Shard[] = [];
  for (let off = 0; off < total; off += shardSize) shards.push({ key: '', body: randomBytes(Math.min(shardSize, total - off)), md5: '' });
  const replicatedGiB = (total * peers.length) / GiB;

  // Sized for the 8 ranks that save at once, as an operator would (the default, 4, bounds the
  // producer's memory and answers the others 503 until an upload ends).
  const svc = await startBenchServices(ctx, { name: 'bulk', consumers: all, producerDatacenter: origin, producerEnv: { SHARDSYNC_PRODUCER_MAX_UPLOADS: String(PUT_CONCURRENCY) } });
  const http = new ProducerHttp(svc.services.producer.url, svc.token, PUT_CONCURRENCY * 2);
  const rclone = rcloneEnv(ctx.topology, ctx.env);
  const times = { shardsync: [] as number[], raw: [] as number[], rclone: [] as number[] };
  const cpu = { shardsync: [] as number[], rclone: [] as number[] };
  const servers: Array<{ shardsync: Record<string, number>; rclone: Record<string, number>; shardsyncProcesses: { producer: number; consumers: number } }> = [];
  const busy: number[] = [];
  const acceptedSeconds: number[] = [];
  try {
    // Warm-up: connections, JIT, the consumers' first apply.
    restamp(shards.slice(0, 2), 'bulk/warmup');
    await mapLimit(shards.slice(0, 2), 2, async (s) => expectAccepted(await http.put('bulk', s.key.slice('bulk/'.length), s.body, s.body.length), 'warm-up'));
    await waitUntilEverywhere(ctx, all, 'bulk/warmup', shards.slice(0, 2), 60_000);

    for (let r = 0; r < ctx.reps; r++) {
      // shardsync: PUT to the producer; done when every datacenter lists every shard.
      restamp(shards, `bulk/s${r}`);
      const cpu0 = svc.cpu();
      const srv0 = serverCpu(ctx);
      const j0 = machineJiffies();
      let t = performance.now();
      await mapLimit(shards, PUT_CONCURRENCY, async (s) => expectAccepted(await http.put('bulk', s.key.slice('bulk/'.length), s.body, s.body.length), `PUT ${s.key}`));
      const acceptedS = (performance.now() - t) / 1000;
      await waitUntilEverywhere(ctx, all, `bulk/s${r}`, shards, 600_000);
      times.shardsync.push((performance.now() - t) / 1000);
      busy.push(busyShare(j0, machineJiffies()));
      acceptedSeconds.push(acceptedS);
      const cpu1 = svc.cpu();
      const shardsyncCpu = cpu1.producer - cpu0.producer + (cpu1.consumers - cpu0.consumers);
      cpu.shardsync.push(shardsyncCpu / replicatedGiB);
      const shardsyncServers = diffCpu(serverCpu(ctx), srv0);

      // (a) raw: the same amount of fresh bytes into the same four stores, by one process.
      restamp(shards, `bulk/raw${r}`);
      const jobs = shards.flatMap((s) => all.map((dc) => ({ s, dc })));
      t = performance.now();
      await mapLimit(jobs, RAW_CONCURRENCY, async ({ s, dc }) => {
        const { client, bucket } = storeOf(ctx, dc);
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: s.key, Body: s.body, ContentLength: s.body.length }));
      });
      times.raw.push((performance.now() - t) / 1000);

      // (b) rclone: the bytes are in the origin first (not timed), then copied to the three others at once.
      restamp(shards, `bulk/rc${r}`);
      const originStore = storeOf(ctx, origin);
      await mapLimit(shards, RAW_CONCURRENCY, async (s) => originStore.client.send(new PutObjectCommand({ Bucket: originStore.bucket, Key: s.key, Body: s.body, ContentLength: s.body.length })));
      const bucketOf = (dc: string) => ctx.topology.datacenters.find((d) => d.name === dc)?.s3.bucket ?? '';
      const srv1 = serverCpu(ctx);
      const runs = await rcloneParallel(
        peers.map((dc) => ['copy', `${remoteOf(origin)}:${bucketOf(origin)}/bulk/rc${r}`, `${remoteOf(dc)}:${bucketOf(dc)}/bulk/rc${r}`, '--transfers', String(RCLONE_TRANSFERS), '--s3-no-check-bucket']),
        rclone,
      );
      const failed = runs.find((x) => x.code !== 0);
      if (failed !== undefined) throw new Error(`rclone copy failed (exit ${failed.code}): ${failed.output}`);
      times.rclone.push(Math.max(...runs.map((x) => x.seconds)));
      cpu.rclone.push(runs.reduce((sum, x) => sum + x.cpuSeconds, 0) / replicatedGiB);
      const rcloneServers = diffCpu(serverCpu(ctx), srv1);
      await waitUntilEverywhere(ctx, all, `bulk/rc${r}`, shards, 10_000);
      servers.push({ shardsync: shardsyncServers, rclone: rcloneServers, shardsyncProcesses: { producer: cpu1.producer - cpu0.producer, consumers: cpu1.consumers - cpu0.consumers } });

      ctx.log(
        `bulk rep ${r + 1}: shardsync ${times.shardsync.at(-1)?.toFixed(1)} s (all accepted after ${acceptedS.toFixed(1)} s), raw ${times.raw.at(-1)?.toFixed(1)} s, rclone ${times.rclone.at(-1)?.toFixed(1)} s; CPU/GiB shardsync ${cpu.shardsync.at(-1)?.toFixed(1)} s, rclone ${cpu.rclone.at(-1)?.toFixed(1)} s`,
      );
      await deletePrefixes(ctx, [`bulk/s${r}/`, `bulk/raw${r}/`, `bulk/rc${r}/`, '.shardsync/staging/']);
    }
  } finally {
    http.close();
    await svc.close();
    await deletePrefixes(ctx, ['bulk/', '.shardsync/']);
  }
  const profile = await profileSummary(ctx, 'bulk');
  const med = (v: number[]) => spread(v).median;
  const proc = servers.map((x) => x.shardsyncProcesses.producer + x.shardsyncProcesses.consumers);
  const storeCpu = servers.map((x) => Object.entries(x.shardsync).filter(([k]) => k !== 'kafka' && k !== 'redis').reduce((a, [, v]) => a + v, 0));
  const rcloneStoreCpu = servers.map((x) => Object.entries(x.rclone).filter(([k]) => k !== 'kafka' && k !== 'redis').reduce((a, [, v]) => a + v, 0));
  const limitedBy =
    `CPU. During the shardsync runs the machine's CPUs were ${Math.round(med(busy) * 100)}% busy (${cpus().length} cores shared by the producer, ${all.length} consumers, ${all.length} S3 servers and Kafka). ` +
    `shardsync's processes used ${med(proc).toFixed(0)} CPU s per run (${med(cpu.shardsync).toFixed(1)} s per GiB replicated) against rclone's ${med(cpu.rclone).toFixed(1)} s per GiB; the S3 servers used ${med(storeCpu).toFixed(0)} s during a shardsync run and ${med(rcloneStoreCpu).toFixed(0)} s during rclone's. ` +
    `The producer alone took ${med(acceptedSeconds).toFixed(0)} s to accept the ${sizeTextOf(total)} (it stages every byte in the origin before any consumer can copy it). Run \`npm run bench -- bulk --profile\` to see where the services' CPU goes.`;

  const mibps = (s: number) => total / MiB / s;
  const throughput = { shardsync: times.shardsync.map(mibps), raw: times.raw.map(mibps), rclone: times.rclone.map(mibps) };
  const sizeText = sizeTextOf(total);
  const figures: Figure[] = [
    {
      name: `bulk ${sizeText} in ${shardSize / MiB} MiB shards, ${origin} -> ${peers.length} more datacenters`,
      unit: 'MiB/s',
      shardsync: spread(throughput.shardsync),
      baseline: spread(throughput.raw),
      baselineName: `(a) raw parallel PutObject of the same bytes into the same ${all.length} stores, ${RAW_CONCURRENCY} in flight`,
      ratio: pairedRatios(throughput.shardsync, throughput.raw),
      target: { op: '>=', value: 0.8, on: 'ratio' },
      limitedBy,
    },
    {
      name: `bulk ${sizeText}, same`,
      unit: 'MiB/s',
      shardsync: spread(throughput.shardsync),
      baseline: spread(throughput.rclone),
      baselineName: `(b) rclone copy ${origin} -> ${peers.join(', ')} at once (--transfers ${RCLONE_TRANSFERS}); bytes already in ${origin}`,
      ratio: pairedRatios(throughput.shardsync, throughput.rclone),
      target: { op: '>=', value: 1.0, on: 'ratio' },
      limitedBy,
    },
    {
      name: 'CPU seconds per GiB replicated (producer + consumers; rclone)',
      unit: 's/GiB',
      shardsync: spread(cpu.shardsync),
      baseline: spread(cpu.rclone),
      baselineName: 'rclone processes',
      // Lower is better: rclone / shardsync > 1 means shardsync spends less CPU.
      ratio: pairedRatios(cpu.rclone, cpu.shardsync),
      notes: `GiB replicated = ${sizeText} x ${peers.length} peers; the S3 servers' and Kafka's CPU is in the JSON (details.servers)`,
    },
  ];
  return {
    scenario: 'bulk',
    title: `Bulk (issue 6): ${sizeText} from ${origin} to ${peers.join(', ')}`,
    repetitions: ctx.reps,
    durationSeconds: (Date.now() - started) / 1000,
    figures,
    details: { totalBytes: total, shardBytes: shardSize, shards: shards.length, datacenters: all, seconds: times, producerAcceptedSeconds: acceptedSeconds, machineBusy: busy, cpuSecondsPerGiB: cpu, servers, ...(profile === undefined ? {} : { profile }) },
  };
}
