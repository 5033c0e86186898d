import { describe, expect, it } from 'vitest';
import { parseDemoArgs } from './options.js';
import { parseBytes, parseDurationMs } from './units.js';

describe('npm start options', () => {
  it('defaults to a 200 MiB workload with damage and repair, stopping everything at the end', () => {
    expect(parseDemoArgs([])).toEqual({ size: 200 * 1024 ** 2, durationMs: undefined, keepRunning: false, workload: true, damage: true, catchUpTimeoutMs: 300_000 });
  });

  it('reads sizes and durations in the units people type, with or without "="', () => {
    const o = parseDemoArgs(['--size', '1GiB', '--duration=90s', '--keep-running', '--no-damage']);
    expect(o).toMatchObject({ size: 1024 ** 3, durationMs: 90_000, keepRunning: true, damage: false });
  });

  it('names the bad argument instead of guessing', () => {
    expect(() => parseDemoArgs(['--size', 'lots'])).toThrow(/--size "lots" is not a size/);
    expect(() => parseDemoArgs(['--sise', '1MiB'])).toThrow(/unknown argument "--sise"/);
    expect(() => parseDemoArgs(['--duration'])).toThrow(/--duration needs a value/);
  });

  it('asks for help with -h', () => {
    expect(parseDemoArgs(['-h'])).toBe('help');
  });
});

describe('units', () => {
  it('treats binary units as powers of 1024 and decimal ones as powers of 1000', () => {
    expect(parseBytes('10MiB')).toBe(10 * 1024 ** 2);
    expect(parseBytes('1.5GB')).toBe(1.5e9);
    expect(parseDurationMs('2m')).toBe(120_000);
    expect(parseDurationMs('250ms')).toBe(250);
  });
});
