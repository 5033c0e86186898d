import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BenchContext } from './context.js';
import type { BenchRun } from './report.js';
import type { ScenarioResult } from './results.js';
import { spread } from './stats.js';

const run = promisify(execFile);

/** Shards in flight per peer: SHARDSYNC_CONSUMER_MAX_TRANSFERS' default, the bench's one consumer per datacenter. */
const CONCURRENCY = 8;

export interface CapacityCheck {
  readonly sizeBytes: number;
  readonly shardBytes: number;
  readonly datacenters: number;
  readonly bandwidthBytesPerSecond: number;
  readonly perShardOverheadMs: number;
  readonly concurrency: number;
  readonly predictedSeconds: number;
  readonly measuredSeconds: number;
  /** The bandwidth that would make the model match the measurement: shardsync's effective bandwidth here. */
  readonly fittedBandwidthBytesPerSecond: number;
  readonly via: 'shardsync plan' | 'formula';
}

/** time = per-shard overhead x shards / concurrency + bytes x (datacenters - 1) / bandwidth (docs/capacity-model.md). */
export function predictSeconds(size: number, shard: number, datacenters: number, bandwidth: number, overheadMs: number, concurrency: number): number {
  const shards = Math.ceil(size / shard);
  return (overheadMs / 1000) * (shards / concurrency) + (size * (datacenters - 1)) / bandwidth;
}

/**
 * Calibrates the capacity model with this machine's figures and compares its prediction with the
 * measured bulk time: bandwidth = the rate at which one process wrote the raw baseline into the
 * same stores (all stores share this machine's disk and CPUs, the "link"); per-shard overhead =
 * the median p50 lag of the lag scenario (a small update's fixed cost through the pipeline).
 */
export async function checkCapacity(ctx: Pick<BenchContext, 'repoRoot' | 'env'>, bulk: ScenarioResult, lag: ScenarioResult | undefined): Promise<CapacityCheck | undefined> {
  const d = bulk.details as { totalBytes?: number; shardBytes?: number; datacenters?: string[]; seconds?: { shardsync: number[]; raw: number[] } };
  if (d.totalBytes === undefined || d.shardBytes === undefined || d.datacenters === undefined || d.seconds === undefined) return undefined;
  const n = d.datacenters.length;
  const bandwidth = (d.totalBytes * n) / spread(d.seconds.raw).median;
  const lagP50 = (lag?.details['lagMs'] as { p50?: number[] } | undefined)?.p50;
  const overheadMs = lagP50 !== undefined && lagP50.length > 0 ? spread(lagP50).median : 5;
  const measuredSeconds = spread(d.seconds.shardsync).median;
  let predicted = predictSeconds(d.totalBytes, d.shardBytes, n, bandwidth, overheadMs, CONCURRENCY);
  let via: CapacityCheck['via'] = 'formula';
  const bin = join(ctx.repoRoot, 'packages', 'cli', 'bin', 'shardsync.js');
  if (existsSync(bin)) {
    try {
      const args = [bin, 'plan', '--size', String(d.totalBytes), '--shard', String(d.shardBytes), '--datacenters', String(n), '--bandwidth', `${(bandwidth / 1e6).toFixed(3)}MB/s`, '--rtt', '0ms', '--per-shard-overhead-ms', overheadMs.toFixed(1), '--concurrency', String(CONCURRENCY), '--json'];
      const { stdout } = await run(process.execPath, args, { env: ctx.env });
      const plan = JSON.parse(stdout) as { predictedSeconds?: number };
      if (typeof plan.predictedSeconds === 'number') {
        predicted = plan.predictedSeconds;
        via = 'shardsync plan';
      }
    } catch {
      // The formula above is the same model.
    }
  }
  const overheadS = (overheadMs / 1000) * (Math.ceil(d.totalBytes / d.shardBytes) / CONCURRENCY);
  const fitted = (d.totalBytes * (n - 1)) / Math.max(0.001, measuredSeconds - overheadS);
  return { sizeBytes: d.totalBytes, shardBytes: d.shardBytes, datacenters: n, bandwidthBytesPerSecond: bandwidth, perShardOverheadMs: overheadMs, concurrency: CONCURRENCY, predictedSeconds: predicted, measuredSeconds, fittedBandwidthBytesPerSecond: fitted, via };
}

const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB/s`;

/** The capacity section of BENCHMARKS.md. */
export async function capacitySection(ctx: Pick<BenchContext, 'repoRoot' | 'env'>, latest: Map<string, { result: ScenarioResult; run: BenchRun }>): Promise<string> {
  const bulk = latest.get('bulk')?.result;
  if (bulk === undefined) return '## Capacity model: predicted against measured\n\nThe bulk scenario has not run yet.\n';
  const c = await checkCapacity(ctx, bulk, latest.get('lag')?.result);
  if (c === undefined) return '';
  const gib = c.sizeBytes / 1024 ** 3;
  return [
    '## Capacity model: predicted against measured (bulk)',
    '',
    'Model (docs/capacity-model.md, `shardsync plan`): time ≈ per-shard overhead × shards / concurrency',
    '+ bytes × (datacenters − 1) / effective bandwidth. Calibrated on this machine with the same run:',
    `bandwidth = the raw baseline's write rate into the same stores (${mb(c.bandwidthBytesPerSecond)}), per-shard`,
    `overhead = the lag scenario's p50 (${c.perShardOverheadMs.toFixed(0)} ms), ${c.concurrency} shards in flight per peer.`,
    '',
    '| Case | Predicted | Measured | Measured / predicted | Bandwidth that fits |',
    '| --- | --- | --- | --- | --- |',
    `| ${gib >= 1 ? `${gib} GiB` : `${(c.sizeBytes / 1024 ** 2).toFixed(0)} MiB`} in ${(c.shardBytes / 1024 ** 2).toFixed(0)} MiB shards, ${c.datacenters} datacenters (${c.via}) | ${c.predictedSeconds.toFixed(1)} s | ${c.measuredSeconds.toFixed(1)} s | ${(c.measuredSeconds / c.predictedSeconds).toFixed(2)} | ${mb(c.fittedBandwidthBytesPerSecond)} |`,
    '',
    'The model counts only the fan-out from the origin; the measured time also includes the upload',
    'into the origin (the producer stages every byte there first) and, here, every process shares two',
    'cores: "Bandwidth that fits" is the effective bandwidth to give `shardsync plan` on a machine like this one.',
    '',
  ].join('\n');
}
