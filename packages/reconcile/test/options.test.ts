import { describe, expect, it } from 'vitest';
import { compilePassRequest, InvalidReconcileOptionsError, TokenBucket, UnknownDatasetError } from '../src/index.js';
import { testTopology } from './helpers.js';

describe('compilePassRequest', () => {
  const topology = testTopology();

  it('fills documented defaults', () => {
    expect(compilePassRequest(topology, { dataset: 'models' })).toEqual({
      dataset: 'models',
      datacenters: ['dc-a', 'dc-b', 'dc-c'],
      targets: ['dc-a', 'dc-b', 'dc-c'],
      prefix: '',
      dryRun: false,
      deep: false,
      bytesPerSecond: 100 * 1024 * 1024,
      unmanaged: 'report',
      tombstoneGraceMs: 7 * 24 * 3600 * 1000,
      leafBits: 12,
    });
  });

  it('names the known datasets when the dataset is unknown', () => {
    expect(() => compilePassRequest(topology, { dataset: 'nope' })).toThrow(UnknownDatasetError);
    expect(() => compilePassRequest(topology, { dataset: 'nope' })).toThrow(/known datasets: models/);
  });

  it('refuses datacenters outside the dataset and targets outside the comparison', () => {
    expect(() => compilePassRequest(topology, { dataset: 'models', datacenters: ['dc-x'] })).toThrow(/dc-x.*dc-a, dc-b, dc-c/);
    expect(() => compilePassRequest(topology, { dataset: 'models', datacenters: ['dc-a', 'dc-b'], targets: ['dc-c'] })).toThrow(InvalidReconcileOptionsError);
  });

  it('orders datacenters as the topology does, whatever order they are given in', () => {
    expect(compilePassRequest(topology, { dataset: 'models', datacenters: ['dc-c', 'dc-a'] }).datacenters).toEqual(['dc-a', 'dc-c']);
  });

  it('refuses a non-positive deep budget', () => {
    expect(() => compilePassRequest(topology, { dataset: 'models', bytesPerSecond: 0 })).toThrow(/bytesPerSecond/);
  });
});

describe('TokenBucket', () => {
  it('lets a burst through at once, then paces to the rate', async () => {
    let clock = 0;
    const waits: number[] = [];
    const bucket = new TokenBucket({ ratePerSecond: 100, now: () => clock, sleep: async (ms) => void waits.push(ms) });
    await bucket.take(100);
    expect(waits).toEqual([]);
    await bucket.take(50);
    expect(waits).toEqual([500]);
    clock += 500;
    await bucket.take(100);
    expect(waits).toEqual([500, 1000]);
  });
});
