import { ExitCode } from '../exit-codes.js';
import type { CommandResult } from '../output.js';
import { planReplication, type Plan, type PlanInput } from '../plan/model.js';
import { renderFields } from '../table.js';
import { formatBytes, formatCount, formatDuration, formatRate, parseDuration, parseInteger, parseNumber, parseRate, parseSize } from '../units.js';

/** `plan`'s options as typed on the command line. */
export interface PlanArgs {
  readonly size: string;
  readonly shard: string;
  readonly datacenters: string;
  readonly bandwidth: string;
  readonly rtt: string;
  readonly concurrency?: string | undefined;
  readonly perShardOverheadMs?: string | undefined;
  readonly tcpWindow?: string | undefined;
  readonly link?: string | undefined;
}

/** Parses the human units; each error names its option and shows an example. */
export function parsePlanArgs(args: PlanArgs): PlanInput {
  return {
    sizeBytes: parseSize(args.size, '--size'),
    shardBytes: parseSize(args.shard, '--shard'),
    datacenters: parseInteger(args.datacenters, '--datacenters', 2, 1000),
    bandwidthBytesPerSecond: parseRate(args.bandwidth, '--bandwidth'),
    rttMs: parseDuration(args.rtt, '--rtt'),
    concurrency: args.concurrency === undefined ? undefined : parseInteger(args.concurrency, '--concurrency', 1, 100_000),
    perShardOverheadMs: args.perShardOverheadMs === undefined ? undefined : parseNumber(args.perShardOverheadMs, '--per-shard-overhead-ms'),
    tcpWindowBytes: args.tcpWindow === undefined ? undefined : parseSize(args.tcpWindow, '--tcp-window'),
    link: args.link as PlanInput['link'],
  };
}

/** The capacity model's prediction for a replication (see `plan/model.ts` for the model and its assumptions). */
export function plan(args: PlanArgs): CommandResult<Plan> {
  const result = planReplication(parsePlanArgs(args));
  return { data: result, text: renderPlan(result), exitCode: ExitCode.ok };
}

const seconds = (s: number) => formatDuration(s * 1000);

export function renderPlan(p: Plan): string {
  const { input } = p;
  const window = Number.isFinite(p.windowLimitBytesPerSecond) ? formatRate(p.windowLimitBytesPerSecond) : 'no limit (RTT 0)';
  const fields: Array<[string, string]> = [
    ['data set', `${formatBytes(input.sizeBytes)} in ${formatBytes(input.shardBytes)} shards = ${formatCount(p.shards)} shards`],
    ['fan-out', `origin + ${p.peers} peer(s), ${input.link === 'shared' ? 'sharing one origin link' : 'one link per peer'}`],
    ['link', `${formatRate(input.bandwidthBytesPerSecond)}, RTT ${formatDuration(input.rttMs)}`],
    ['bytes on the bottleneck', `${formatBytes(p.bytesOnBottleneck)}${input.link === 'shared' ? ` (${formatBytes(input.sizeBytes)} x ${p.peers} peers)` : ' (per peer link)'}`],
    [
      'effective bandwidth',
      `${formatRate(p.effectiveBandwidthBytesPerSecond)} (${p.bandwidthLimitedBy === 'link' ? 'the link' : 'limited by TCP windows'}; ${p.streamsPerLink} streams allow ${window})`,
    ],
    [
      'per-shard overhead',
      `${formatDuration(input.perShardOverheadMs)} x ${formatCount(p.shards)} shards / ${p.inFlight} in flight = ${seconds(p.overheadSeconds)}`,
    ],
    ['transfer', `${formatBytes(p.bytesOnBottleneck)} / ${formatRate(p.effectiveBandwidthBytesPerSecond)} = ${seconds(p.transferSeconds)}`],
    ['predicted time', `${seconds(p.predictedSeconds)} (at least ${seconds(p.lowerBoundSeconds)} if overhead fully overlaps transfer)`],
    ['throughput', `${formatRate(p.throughputBytesPerSecond)} of data set replicated everywhere`],
    ['bound by', p.boundBy === 'bandwidth' ? 'bandwidth: larger shards or more concurrency barely help; a faster link does' : 'per-shard overhead: use larger shards or more concurrency'],
  ];
  return `${renderFields(fields)}\n\nassumptions:\n${p.assumptions.map((a) => `  - ${a}`).join('\n')}`;
}
