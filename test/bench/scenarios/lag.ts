import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { watch, type FSWatcher } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { objectFile } from '../../demo/damage.js';
import { fetchMetrics, histogramQuantile } from '../../demo/metrics.js';
import { type BenchContext, busyShare, deletePrefixes, machineJiffies, startBenchServices, storeOf } from '../context.js';
import { expectAccepted, ProducerHttp } from '../producer-http.js';
import type { Figure, ScenarioResult } from '../results.js';
import { percentile, spread } from '../stats.js';
import { handledBy, measureShardsyncSmall, smallDatacenters, waitHandled } from './small.js';

const KiB = 1024;

/**
 * Records when each key of a folder becomes visible in a datacenter's store, from the S3 server's
 * own disk (s3proxy's filesystem backend writes a temporary file and renames it into place):
 * inotify costs the stores nothing, where polling them with HEAD or LIST would slow down the very
 * thing measured. Only the bench's local stack allows this.
 */
class VisibilityWatch {
  readonly seen = new Map<string, Map<string, number>>();
  readonly #watchers: FSWatcher[] = [];

  static async start(ctx: BenchContext, datacenters: readonly string[], prefix: string): Promise<VisibilityWatch> {
    const w = new VisibilityWatch();
    for (const dc of datacenters) {
      const bucket = ctx.topology.datacenters.find((d) => d.name === dc)?.s3.bucket ?? '';
      const dir = objectFile(ctx.stateDir, dc, bucket, prefix);
      await mkdir(dir, { recursive: true });
      const seen = new Map<string, number>();
      w.seen.set(dc, seen);
      w.#watchers.push(
        watch(dir, (_event, name) => {
          const key = name?.toString();
          if (key !== undefined && /^k\d+$/.test(key) && !seen.has(key)) seen.set(key, performance.now());
        }),
      );
    }
    return w;
  }

  /** When the key was visible in every datacenter, or undefined if not yet. */
  everywhere(key: string): number | undefined {
    let latest = 0;
    for (const seen of this.seen.values()) {
      const t = seen.get(key);
      if (t === undefined) return undefined;
      latest = Math.max(latest, t);
    }
    return latest;
  }

  close(): void {
    for (const w of this.#watchers) w.close();
  }
}

/** Sends `count` requests at `rate` per second on a fixed schedule (open loop: a slow answer does not delay the next request). */
async function openLoop(rate: number, count: number, send: (i: number) => Promise<void>): Promise<void> {
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    inFlight.push(send(i));
  }
  await Promise.all(inFlight);
}

/**
 * Issue 6: at half the sustainable rate of `small`, the delay from the producer's 202 to the
 * update being readable in every datacenter (p50/p99/max), against the latency of a raw 1 KiB
 * PutObject sent at the same rate. Target: p99 lag at most 20 x raw p99.
 */
export async function lagScenario(ctx: BenchContext, small: { title: string; details: Record<string, unknown> } | undefined): Promise<ScenarioResult> {
  const started = Date.now();
  const durationS = ctx.quick ? 3 : 10;
  const dcs = smallDatacenters(ctx);
  const svc = await startBenchServices(ctx, { name: 'lag', consumers: dcs, producerDatacenter: dcs[0] });
  const http = new ProducerHttp(svc.services.producer.url, svc.token, 256);
  const body = randomBytes(KiB);
  const lag = { p50: [] as number[], p99: [] as number[], max: [] as number[] };
  const raw = { p50: [] as number[], p99: [] as number[] };
  const negatives: number[] = [];
  const busy: number[] = [];
  const own: Record<string, { applyP50Ms: number; applyP99Ms: number; producedToVisibleP50Ms: number; producedToVisibleP99Ms: number }> = {};
  let rate: number;
  let rateSource: string;
  try {
    const measured = (small?.details['objectsPerSecond'] as { shardsync?: number[] } | undefined)?.shardsync;
    if (measured !== undefined && measured.length > 0) {
      rate = spread(measured).median / 2;
      rateSource = `half the median of the small scenario: ${small?.title ?? ''}`;
    } else {
      const s = await measureShardsyncSmall(svc, http, 'lag-rate', ctx.quick ? 2_000 : 5_000);
      rate = s.rate / 2;
      rateSource = 'half the sustainable small rate, measured here first (small did not run in this invocation)';
    }
    ctx.log(`lag: ${rate.toFixed(0)} updates/s (${rateSource})`);
    const count = Math.max(20, Math.round(rate * durationS));

    // Warm-up at the same rate (fresh processes: JIT, sockets, the consumers' first batches), not measured.
    const before = await handledBy(svc);
    const warm = Math.max(10, Math.round(rate * 2));
    await openLoop(rate, warm, async (i) => expectAccepted(await http.put('small', `lag-warmup/k${i}`, body, body.length), 'lag warm-up'));
    await waitHandled(svc, before, warm, 120_000);

    for (let r = 0; r < ctx.reps; r++) {
      const prefix = `small/lag${r}`;
      const watchers = await VisibilityWatch.start(ctx, dcs, prefix);
      const acceptedAt = new Map<string, number>();
      const j0 = machineJiffies();
      try {
        await openLoop(rate, count, async (i) => {
          const key = `k${i}`;
          const a = await http.put('small', `lag${r}/${key}`, body, body.length);
          expectAccepted(a, 'lag put');
          acceptedAt.set(key, a.at);
        });
        const deadline = Date.now() + 60_000;
        while ([...acceptedAt.keys()].some((k) => watchers.everywhere(k) === undefined)) {
          if (Date.now() > deadline) throw new Error(`lag: not every update became visible everywhere within 60 s after the last 202`);
          await sleep(50);
        }
      } finally {
        watchers.close();
      }
      busy.push(busyShare(j0, machineJiffies()));
      const lags = [...acceptedAt].map(([k, t]) => (watchers.everywhere(k) ?? NaN) - t);
      negatives.push(lags.filter((x) => x < 0).length);
      const clamped = lags.map((x) => Math.max(0, x));
      lag.p50.push(percentile(clamped, 50));
      lag.p99.push(percentile(clamped, 99));
      lag.max.push(Math.max(...clamped));

      // Raw PutObject latency at the same rate, round-robin over the same three stores.
      const latencies: number[] = [];
      await openLoop(rate, count, async (i) => {
        const { client, bucket } = storeOf(ctx, dcs[i % dcs.length] ?? '');
        const t = performance.now();
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: `small/lagraw${r}/k${i}`, Body: body, ContentLength: body.length }));
        latencies.push(performance.now() - t);
      });
      raw.p50.push(percentile(latencies, 50));
      raw.p99.push(percentile(latencies, 99));
      ctx.log(
        `lag rep ${r + 1}: ${count} updates, lag p50 ${lag.p50.at(-1)?.toFixed(1)} ms, p99 ${lag.p99.at(-1)?.toFixed(1)} ms, max ${lag.max.at(-1)?.toFixed(1)} ms; raw PutObject p50 ${raw.p50.at(-1)?.toFixed(1)} ms, p99 ${raw.p99.at(-1)?.toFixed(1)} ms`,
      );
      await deletePrefixes(ctx, [`${prefix}/`, `small/lagraw${r}/`]);
    }
    // The consumers' own view (their histograms, over all repetitions): how much of the lag is the apply itself.
    for (const [dc, c] of svc.services.consumers) {
      const m = await fetchMetrics(c.url);
      own[dc] = {
        applyP50Ms: histogramQuantile(m, 'shardsync_consumer_apply_seconds', 0.5) * 1000,
        applyP99Ms: histogramQuantile(m, 'shardsync_consumer_apply_seconds', 0.99) * 1000,
        producedToVisibleP50Ms: histogramQuantile(m, 'shardsync_consumer_replication_lag_seconds', 0.5) * 1000,
        producedToVisibleP99Ms: histogramQuantile(m, 'shardsync_consumer_replication_lag_seconds', 0.99) * 1000,
      };
    }
  } finally {
    http.close();
    await svc.close();
    await deletePrefixes(ctx, ['small/', '.shardsync/']);
  }
  const ownText = Object.entries(own)
    .map(([dc, o]) => `${dc} apply p50 ${o.applyP50Ms.toFixed(0)} ms / p99 ${o.applyP99Ms.toFixed(0)} ms, produced-to-visible p50 ${o.producedToVisibleP50Ms.toFixed(0)} ms / p99 ${o.producedToVisibleP99Ms.toFixed(0)} ms`)
    .join('; ');
  const applyP50 = spread(Object.values(own).map((o) => o.applyP50Ms)).median;
  const busyPct = Math.round(spread(busy).median * 100);
  const limitedBy =
    `The consumers' own histograms (bucket estimates): ${ownText}. The machine's CPUs were ${busyPct}% busy during the shardsync runs. ` +
    (applyP50 > 0.3 * spread(lag.p50).median
      ? `Applying is slow here: one 1 KiB update is one conditional PutObject, which the raw baseline completes in ${spread(raw.p50).median.toFixed(1)} ms (p50) on an idle machine, but which takes the consumers about ${applyP50.toFixed(0)} ms while the producer, three consumers, Kafka and the S3 servers share ${cpus().length} cores; at this rate the consumers are close to saturation, and queueing behind earlier updates makes the tail.`
      : `Waiting, not work: applying takes ${applyP50.toFixed(0)} ms of the ${spread(lag.p50).median.toFixed(0)} ms p50; the rest is the update waiting for its turn: fetched in a batch, applied, the batch committed, then the next fetch (kafkajs fetches again only after every partition's batch of the current fetch is done). A p99 near the raw p99 would need updates applied as they arrive rather than in fetch/apply/commit rounds.`);
  const ratio = spread(lag.p99.map((v, i) => v / (raw.p99[i] ?? NaN)));
  const figures: Figure[] = [
    {
      name: `p99 lag, 202 -> readable in all ${dcs.length} datacenters, at ${rate.toFixed(0)} updates/s`,
      unit: 'ms',
      shardsync: spread(lag.p99),
      baseline: spread(raw.p99),
      baselineName: 'p99 of a raw 1 KiB PutObject at the same rate',
      ratio,
      target: { op: '<=', value: 20, on: 'ratio' },
      limitedBy,
    },
    { name: 'p50 lag', unit: 'ms', shardsync: spread(lag.p50), baseline: spread(raw.p50), baselineName: 'p50 of a raw 1 KiB PutObject', ratio: spread(lag.p50.map((v, i) => v / (raw.p50[i] ?? NaN))) },
    {
      name: 'max lag',
      unit: 'ms',
      shardsync: spread(lag.max),
      notes: `visibility taken from the S3 servers' disks (inotify on the object's folder), resolution < 1 ms; ${negatives.reduce((a, b) => a + b, 0)} update(s) were readable before their 202 arrived (counted as 0)`,
    },
  ];
  return {
    scenario: 'lag',
    title: `Lag (issue 6): 202 to readable in ${dcs.join(', ')}`,
    repetitions: ctx.reps,
    durationSeconds: (Date.now() - started) / 1000,
    figures,
    details: { ratePerSecond: rate, rateSource, machineBusy: busy, lagMs: lag, rawPutMs: raw, readableBefore202: negatives, consumersOwnView: own },
  };
}
