import { describe, expect, it } from 'vitest';
import { parsePlanArgs, planReplication, renderPlan } from '../src/index.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

describe('the capacity model', () => {
  it('predicts the reference case: 1 GiB in 10 MiB shards to three more datacenters over one shared 100 MB/s link', () => {
    const plan = planReplication({ sizeBytes: GiB, shardBytes: 10 * MiB, datacenters: 4, bandwidthBytesPerSecond: 100e6, rttMs: 100 });
    expect(plan.shards).toBe(103);
    expect(plan.bytesOnBottleneck).toBe(3 * GiB);
    expect(plan.effectiveBandwidthBytesPerSecond).toBe(100e6);
    // 205 ms x 103 / 8 (one consumer's transfers at once) + 3 GiB / 100 MB/s
    expect(plan.overheadSeconds).toBeCloseTo(0.205 * (103 / 8), 9);
    expect(plan.transferSeconds).toBeCloseTo((3 * GiB) / 100e6, 9);
    expect(plan.predictedSeconds).toBeCloseTo(plan.overheadSeconds + plan.transferSeconds, 9);
    expect(plan.lowerBoundSeconds).toBe(plan.transferSeconds);
    expect(plan.boundBy).toBe('bandwidth');
  });

  it('lets peers with links of their own transfer in parallel', () => {
    const input = { sizeBytes: GiB, shardBytes: 10 * MiB, datacenters: 4, bandwidthBytesPerSecond: 100e6, rttMs: 100 };
    const shared = planReplication(input);
    const mesh = planReplication({ ...input, link: 'per-peer' });
    expect(mesh.transferSeconds * 3).toBeCloseTo(shared.transferSeconds, 9);
  });

  it('grows the transfer term linearly with the number of peers on a shared link', () => {
    const base = { sizeBytes: GiB, shardBytes: 10 * MiB, bandwidthBytesPerSecond: 100e6, rttMs: 0, perShardOverheadMs: 0 };
    const two = planReplication({ ...base, datacenters: 2 });
    const five = planReplication({ ...base, datacenters: 5 });
    expect(five.transferSeconds).toBeCloseTo(4 * two.transferSeconds, 9);
  });

  it('is limited by TCP windows when few streams cross a long fat link', () => {
    const plan = planReplication({ sizeBytes: GiB, shardBytes: 64 * MiB, datacenters: 2, bandwidthBytesPerSecond: 10e9, rttMs: 200, concurrency: 1, tcpWindowBytes: 4 * MiB });
    expect(plan.bandwidthLimitedBy).toBe('tcp-window');
    expect(plan.effectiveBandwidthBytesPerSecond).toBeCloseTo((4 * MiB) / 0.2, 6);
  });

  it('is bound by per-shard overhead for many small shards', () => {
    const plan = planReplication({ sizeBytes: GiB, shardBytes: 64 * 1024, datacenters: 3, bandwidthBytesPerSecond: 1e9, rttMs: 50 });
    expect(plan.shards).toBe(16_384);
    expect(plan.boundBy).toBe('per-shard overhead');
    expect(plan.input.perShardOverheadMs).toBe(105);
  });

  it('uses a given per-shard overhead and concurrency instead of the defaults', () => {
    const plan = planReplication({ sizeBytes: 100 * MiB, shardBytes: 10 * MiB, datacenters: 2, bandwidthBytesPerSecond: 1e12, rttMs: 10, perShardOverheadMs: 40, concurrency: 5 });
    expect(plan.overheadSeconds).toBeCloseTo(0.04 * 2, 9);
    expect(plan.assumptions.join('\n')).toContain('as given by --per-shard-overhead-ms');
  });

  it('has no more shards in flight than the data set has: a single shard pays its whole overhead, over one stream', () => {
    const plan = planReplication({ sizeBytes: 10 * MiB, shardBytes: GiB, datacenters: 2, bandwidthBytesPerSecond: 10e9, rttMs: 100 });
    expect(plan.shards).toBe(1);
    expect(plan.overheadSeconds).toBeCloseTo(0.205, 9);
    expect(plan.streamsPerLink).toBe(1);
    expect(plan.effectiveBandwidthBytesPerSecond).toBeCloseTo((4 * MiB) / 0.1, 6);
    expect(plan.predictedSeconds).toBeGreaterThan(0.205);
    expect(renderPlan(plan)).toContain('205 ms x 1 shards / 1 in flight = 205 ms');
  });

  it.each([
    [{ datacenters: 1 }, /--datacenters must be a whole number of at least 2/],
    [{ sizeBytes: 0 }, /--size must be a positive number/],
    [{ concurrency: 0 }, /--concurrency must be a whole number of at least 1/],
    [{ rttMs: -1 }, /--rtt must be a non-negative number/],
  ])('refuses %j, naming the option', (override, message) => {
    const input = { sizeBytes: GiB, shardBytes: 10 * MiB, datacenters: 4, bandwidthBytesPerSecond: 100e6, rttMs: 100, ...override };
    expect(() => planReplication(input)).toThrow(message);
  });
});

describe('plan arguments and output', () => {
  it('parses human units and prints the terms, the prediction and the assumptions', () => {
    const input = parsePlanArgs({ size: '1GiB', shard: '10MiB', datacenters: '4', bandwidth: '100MB/s', rtt: '100ms' });
    const text = renderPlan(planReplication(input));
    expect(text).toContain('1 GiB in 10 MiB shards = 103 shards');
    expect(text).toContain('3 GiB (1 GiB x 3 peers)');
    expect(text).toContain('predicted time:          34.9 s (at least 32.2 s');
    expect(text).toMatch(/assumptions:\n {2}- fan-out shares one link/);
  });

  it('names the option whose unit does not parse', () => {
    expect(() => parsePlanArgs({ size: '1GiB', shard: '10MiB', datacenters: '4', bandwidth: '100MB', rtt: '100ms' })).toThrow(/^--bandwidth: "100MB" is not a rate/);
  });
});
