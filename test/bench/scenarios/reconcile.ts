import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { StorePool } from '@shardsync/objectstore';
import { runPass, type PassReport } from '@shardsync/reconcile';
import { objectFile } from '../../demo/damage.js';
import { isS3ProxyArtifact } from '@shardsync/objectstore';
import { type BenchContext, serverCpu, storeOf } from '../context.js';
import { rcloneEnv, rcloneParallel, remoteOf } from '../rclone.js';
import type { Figure, ScenarioResult } from '../results.js';
import { pairedRatios, spread } from '../stats.js';
import { seedOnDisk, type SeedObject } from '../seed-disk.js';
import { smallDatacenters } from './small.js';

/** Objects per datacenter: the issue's 100,000 unless SHARDSYNC_BENCH_RECONCILE_OBJECTS says otherwise. */
export function reconcileObjects(): number {
  const v = Number(process.env['SHARDSYNC_BENCH_RECONCILE_OBJECTS'] ?? 100_000);
  if (!Number.isInteger(v) || v < 1000) throw new Error('SHARDSYNC_BENCH_RECONCILE_OBJECTS must be a whole number >= 1000');
  return v;
}

const GROUPS = 100;
const keyOf = (i: number) => `rec/g${String(i % GROUPS).padStart(2, '0')}/o${String(i).padStart(7, '0')}`;
const bodyOf = (i: number, generation = 0) => `object ${i} generation ${generation} of the reconcile benchmark`.padEnd(96, '.');
const versionOf = (ms: number) => `${String(ms).padStart(16, '0')}.0000000000.bench-seed`;

/**
 * Issue 5: a routine pass (no body reads) of `@shardsync/reconcile` over N objects in each of three
 * datacenters with 0.1% divergent keys (half missing in one datacenter, half an older version in
 * another), against `rclone check` comparing the same stores pairwise (three pairs at once), both
 * on the same divergence. Also counts the pass's requests beyond listing per divergent key.
 */
export async function reconcileScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const started = Date.now();
  const n = ctx.quick ? 2_000 : reconcileObjects();
  const dcs = smallDatacenters(ctx);
  const bucketOf = (dc: string) => ctx.topology.datacenters.find((d) => d.name === dc)?.s3.bucket ?? '';
  const bucketDir = (dc: string) => objectFile(ctx.stateDir, dc, bucketOf(dc), '');
  const baseMs = Date.now() - 3_600_000;
  const divergentPerRep = Math.max(10, Math.round(n / 1000));

  // Same objects in every datacenter, written on the first S3 server's disk (see seed-disk.ts)
  // and hard-linked into the others' (same bytes and extended attributes; s3proxy replaces a file
  // by renaming a new one over it, so a repair or an injected divergence never writes through a link).
  const seedStart = Date.now();
  const all: SeedObject[] = Array.from({ length: n }, (_, i) => ({ key: `small/${keyOf(i)}`, body: bodyOf(i), version: versionOf(baseMs + i) }));
  const [origin = '', ...copies] = dcs;
  await seedOnDisk(bucketDir(origin), all);
  await Promise.all(copies.map((dc) => linkTree(objectFile(ctx.stateDir, origin, bucketOf(origin), 'small/rec'), objectFile(ctx.stateDir, dc, bucketOf(dc), 'small/rec'))));
  for (const dc of dcs) await checkSeeded(ctx, dc, all[7] as SeedObject);
  ctx.log(`reconcile: seeded ${n} objects in each of ${dcs.join(', ')} in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);

  const pool = new StorePool(ctx.topology.datacenters, { listExclude: isS3ProxyArtifact });
  const rclone = rcloneEnv(ctx.topology, ctx.env);
  const passSeconds: number[] = [];
  const rcloneSeconds: number[] = [];
  const perKey: number[] = [];
  const reports: Array<Pick<PassReport, 'divergentKeys' | 'remaining' | 'converged' | 'requests' | 'requestsPerDivergentKey' | 'durationMs' | 'bytesMoved'>> = [];
  const found: number[] = [];
  const listing = { recursiveSecondsPerPage: NaN, recursivePagesTimed: 0, folderWalkSeconds: NaN, folderWalkRequests: 0 };
  // CPU seconds of the S3 servers and of the listing client (this process for the pass, rclone's processes) per repetition.
  const cpu = { passServers: [] as number[], passClient: [] as number[], rcloneServers: [] as number[], rcloneClient: [] as number[] };
  const storeCpu = (): number => Object.entries(serverCpu(ctx)).filter(([k]) => k !== 'kafka' && k !== 'redis').reduce((a, [, v]) => a + v, 0);
  try {
    for (let r = 0; r < ctx.reps; r++) {
      // Divergence: different keys each repetition, spread over the key space.
      const keys = Array.from({ length: divergentPerRep }, (_, j) => Math.floor(((j + 0.5) * n) / divergentPerRep + r * 7) % n);
      const missing = keys.filter((_, j) => j % 2 === 0);
      const stale = keys.filter((_, j) => j % 2 === 1);
      const [, second = dcs[0] ?? '', third = dcs[0] ?? ''] = dcs;
      await seedOnDisk(bucketDir(second), missing.map((i) => ({ key: `small/${keyOf(i)}`, delete: true })));
      await seedOnDisk(bucketDir(third), stale.map((i) => ({ key: `small/${keyOf(i)}`, body: bodyOf(i, -1), version: versionOf(baseMs + i - 60_000) })));

      // rclone check, every pair at once; exit 1 means it found differences, as it must.
      const pairs: Array<[string, string]> = [];
      for (let a = 0; a < dcs.length; a++) for (let b = a + 1; b < dcs.length; b++) pairs.push([dcs[a] ?? '', dcs[b] ?? '']);
      const rcloneServers0 = storeCpu();
      const runs = await rcloneParallel(
        pairs.map(([a, b]) => ['check', `${remoteOf(a)}:${bucketOf(a)}/small/rec`, `${remoteOf(b)}:${bucketOf(b)}/small/rec`]),
        rclone,
      );
      const broken = runs.find((x) => x.code !== 0 && x.code !== 1);
      if (broken !== undefined) throw new Error(`rclone check failed (exit ${broken.code}): ${broken.output.slice(-1500)}`);
      const differences = runs.reduce((s, x) => s + Number(/(\d+) differences found/.exec(x.output)?.[1] ?? 0), 0);
      found.push(differences);
      rcloneSeconds.push(Math.max(...runs.map((x) => x.seconds)));
      cpu.rcloneServers.push(storeCpu() - rcloneServers0);
      cpu.rcloneClient.push(runs.reduce((sum, x) => sum + x.cpuSeconds, 0));

      // shardsync: one routine pass over the same prefix, repairing what it finds.
      const passServers0 = storeCpu();
      const passClient0 = process.cpuUsage();
      const t = performance.now();
      const report = await runPass({ topology: ctx.topology, stores: pool, dataset: 'small', prefix: 'rec/' });
      passSeconds.push((performance.now() - t) / 1000);
      const client = process.cpuUsage(passClient0);
      cpu.passClient.push((client.user + client.system) / 1e6);
      cpu.passServers.push(storeCpu() - passServers0);
      perKey.push(report.requestsPerDivergentKey);
      reports.push({ divergentKeys: report.divergentKeys, remaining: report.remaining, converged: report.converged, requests: report.requests, requestsPerDivergentKey: report.requestsPerDivergentKey, durationMs: report.durationMs, bytesMoved: report.bytesMoved });
      ctx.log(
        `reconcile rep ${r + 1}: pass ${passSeconds.at(-1)?.toFixed(1)} s (${report.divergentKeys} divergent keys, ${report.requests.total} requests beyond listing, ${report.converged ? 'converged' : `${report.remaining} left`}); rclone check ${rcloneSeconds.at(-1)?.toFixed(1)} s (${differences} differences over ${pairs.length} pairs)`,
      );
      if (report.divergentKeys !== divergentPerRep || !report.converged) {
        throw new Error(`the pass found ${report.divergentKeys} divergent keys of ${divergentPerRep} injected and ${report.converged ? 'converged' : `left ${report.remaining}`}`);
      }
    }
    // What a listing costs on these servers: a recursive listing (its first page only: all of them take
    // minutes at this size) against the same keys folder by folder (as the pass and rclone check list).
    const { client, bucket } = storeOf(ctx, dcs[0] ?? '');
    let t = performance.now();
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'small/rec/', ContinuationToken: token }));
      listing.recursivePagesTimed += 1;
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined && listing.recursivePagesTimed < 1);
    listing.recursiveSecondsPerPage = (performance.now() - t) / 1000 / listing.recursivePagesTimed;
    t = performance.now();
    const folders = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'small/rec/', Delimiter: '/' }));
    for (const f of folders.CommonPrefixes ?? []) await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: f.Prefix }));
    listing.folderWalkSeconds = (performance.now() - t) / 1000;
    listing.folderWalkRequests = 1 + (folders.CommonPrefixes?.length ?? 0);
  } finally {
    await pool.close();
    await Promise.all(dcs.map((dc) => rm(objectFile(ctx.stateDir, dc, bucketOf(dc), 'small/rec'), { recursive: true, force: true })));
    await Promise.all(dcs.map((dc) => rm(objectFile(ctx.stateDir, dc, bucketOf(dc), '.shardsync'), { recursive: true, force: true })));
  }
  const figures: Figure[] = [
    {
      name: `routine pass, ${n.toLocaleString('en')} objects x ${dcs.length} datacenters, ${divergentPerRep} divergent keys (0.1%)`,
      unit: 's',
      shardsync: spread(passSeconds),
      baseline: spread(rcloneSeconds),
      baselineName: `rclone check, the ${dcs.length} pairs at once`,
      // Lower is better: pass time / rclone time.
      ratio: pairedRatios(passSeconds, rcloneSeconds),
      target: { op: '<=', value: 0.5, on: 'ratio' },
      limitedBy: limitedBy(n, dcs.length, cpu, listing, spread(perKey).median),
      notes:
        `each datacenter's ${n.toLocaleString('en')} objects are listed folder by folder (topology s3.listing: folders); a recursive listing of this s3proxy costs ${listing.recursiveSecondsPerPage.toFixed(1)} s per 1000-key page at this size (it re-walks the whole prefix for every page), a walk of the same keys ${listing.folderWalkSeconds.toFixed(1)} s in ${listing.folderWalkRequests} requests, one at a time; ` +
        `CPU per repetition (medians): the S3 servers ${spread(cpu.passServers).median.toFixed(1)} s answering the pass, ${spread(cpu.rcloneServers).median.toFixed(1)} s answering rclone; the pass's own process ${spread(cpu.passClient).median.toFixed(1)} s, rclone's ${spread(cpu.rcloneClient).median.toFixed(1)} s`,
    },
    { name: 'requests beyond listing per divergent key', unit: 'requests', shardsync: spread(perKey), target: { op: '<=', value: 4, on: 'absolute' } },
  ];
  return {
    scenario: 'reconcile',
    title: `Reconcile (issue 5): ${n.toLocaleString('en')} objects per datacenter in ${dcs.join(', ')}`,
    repetitions: ctx.reps,
    durationSeconds: (Date.now() - started) / 1000,
    figures,
    details: { listing, cpuSeconds: cpu, objectsPerDatacenter: n, divergentKeysPerRep: divergentPerRep, passSeconds, rcloneSeconds, rcloneDifferences: found, reports, seededOnDisk: true },
  };
}

/** One seeded object seen through S3: ETag = MD5, size, shardsync metadata, and listed. */
async function checkSeeded(ctx: BenchContext, dc: string, o: SeedObject): Promise<void> {
  const { client, bucket } = storeOf(ctx, dc);
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: o.key }));
  const md5 = createHash('md5').update(o.body ?? '').digest('hex');
  const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: o.key, MaxKeys: 1 }));
  if (head.ETag !== `"${md5}"` || head.ContentLength !== (o.body ?? '').length || head.Metadata?.['shardsync-version'] !== o.version || listed.Contents?.[0]?.ETag !== `"${md5}"`) {
    throw new Error(`objects seeded on ${dc}'s disk do not read back as written through S3 (ETag ${head.ETag}, size ${head.ContentLength}, metadata ${JSON.stringify(head.Metadata)}); has s3proxy's layout changed? (test/bench/seed-disk.ts)`);
  }
}

/** What limits the pass against rclone check, from the CPU both used (the S3 servers' and their own). */
function limitedBy(
  n: number,
  datacenters: number,
  cpu: { passServers: number[]; passClient: number[]; rcloneServers: number[]; rcloneClient: number[] },
  listing: { folderWalkSeconds: number },
  requestsPerKey: number,
): string {
  const m = (xs: number[]): number => spread(xs).median;
  const pairs = (datacenters * (datacenters - 1)) / 2;
  return (
    `Listing, on CPUs the S3 servers share with the lister. A routine pass lists each of the ${datacenters} datacenters once (${(datacenters * n).toLocaleString('en')} keys); ` +
    `rclone check lists both sides of each of its ${pairs} pairs (${(2 * pairs * n).toLocaleString('en')} keys). Per repetition the S3 servers spent ${m(cpu.passServers).toFixed(1)} CPU s answering the pass ` +
    `and ${m(cpu.rcloneServers).toFixed(1)} s answering rclone; the pass itself (this Node.js process: parsing the listing pages, hashing every key into the digest trees) spent ${m(cpu.passClient).toFixed(1)} CPU s, ` +
    `rclone's processes ${m(cpu.rcloneClient).toFixed(1)} s. On ${cpus().length} cores the pass's time is bounded by its servers' plus its own CPU, so its ratio cannot fall below ` +
    `about (servers + pass) / (servers + rclone) of the CPU seconds above; the drill-down beyond listing is ${requestsPerKey.toFixed(1)} requests per divergent key. ` +
    `A walk of one datacenter's keys costs ${listing.folderWalkSeconds.toFixed(1)} s one folder at a time. Faster still: list each datacenter next to its store (an agent shipping digest trees, see DatacenterView) so a pass costs one listing per datacenter however many compare it.`
  );
}

/** Hard-links every file of a directory tree into another (created), as `cp -al` does. */
async function linkTree(from: string, to: string): Promise<void> {
  await rm(to, { recursive: true, force: true });
  await mkdir(dirname(to), { recursive: true });
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn('cp', ['-al', from, to], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (c) => resolve({ code: c, output: out }));
  });
  if (code !== 0) throw new Error(`cp -al ${from} ${to} failed (exit ${code}): ${output}`);
}
