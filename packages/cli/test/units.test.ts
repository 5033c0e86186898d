import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, formatRate, parseDuration, parseInteger, parseNumber, parseRate, parseSize } from '../src/index.js';

describe('parseSize', () => {
  it.each([
    ['1GiB', 2 ** 30],
    ['10MiB', 10 * 2 ** 20],
    ['1.5 KiB', 1536],
    ['500MB', 500e6],
    ['1kB', 1000],
    ['2 gib', 2 * 2 ** 30],
    ['4096', 4096],
    ['4096B', 4096],
    ['1TiB', 2 ** 40],
  ])('reads %s as %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['10M', '1G', 'GiB', '', '-1MiB', '1.2.3MiB', '10 parsecs', '1e3'])('refuses %j, naming the option and showing examples', (text) => {
    expect(() => parseSize(text, '--shard')).toThrow(/^--shard: .* is not a size; write a number and a unit, e\.g\. 10MiB/);
  });

  it('refuses a bare prefix because MB and MiB differ by 5%', () => {
    expect(() => parseSize('10M', '--size')).toThrow(/10MiB, 1GiB, 500MB/);
  });
});

describe('parseRate', () => {
  it.each([
    ['100MB/s', 100e6],
    ['1GiB/s', 2 ** 30],
    ['800Mbit/s', 100e6],
    ['1Gbps', 125e6],
    ['100Mb/s', 12.5e6],
    ['100MBps', 100e6],
    ['50 MiB/s', 50 * 2 ** 20],
  ])('reads %s as %d bytes per second', (text, rate) => {
    expect(parseRate(text)).toBeCloseTo(rate, 6);
  });

  it('tells bytes (B) from bits (b)', () => {
    expect(parseRate('8MB/s') / parseRate('8Mb/s')).toBe(8);
  });

  it.each(['100MB', '100', 'fast', '100MB/h'])('refuses %j with an example', (text) => {
    expect(() => parseRate(text, '--bandwidth')).toThrow(/^--bandwidth: .* is not a rate; write a size per second, e\.g\. 100MB\/s/);
  });
});

describe('parseDuration', () => {
  it.each([
    ['100ms', 100],
    ['0.5s', 500],
    ['2min', 120_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    ['250us', 0.25],
    ['1 s', 1000],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBeCloseTo(ms, 9);
  });

  it('asks for a unit instead of guessing one for a bare number', () => {
    expect(() => parseDuration('100', '--rtt')).toThrow('--rtt: "100" is not a duration; add a unit, e.g. 100ms or 100s');
  });

  it('refuses unknown units', () => {
    expect(() => parseDuration('3 fortnights', '--max-age')).toThrow(/--max-age: .* write a number and a unit: us, ms, s, min, h or d/);
  });
});

describe('parseInteger', () => {
  it('reads whole numbers within bounds', () => {
    expect(parseInteger('16', '--concurrency', 1)).toBe(16);
  });

  it.each([
    ['0', /must be at least 1, got 0/],
    ['1.5', /is not a whole number/],
    ['many', /is not a whole number/],
  ])('refuses %j', (text, message) => {
    expect(() => parseInteger(text, '--concurrency', 1)).toThrow(message);
  });
});

describe('formatting', () => {
  it('formats sizes in binary units without trailing zeros', () => {
    expect([formatBytes(0), formatBytes(1536), formatBytes(2 ** 30), formatBytes(3 * 2 ** 30), formatBytes(100 * 2 ** 20)]).toEqual(['0 B', '1.5 KiB', '1 GiB', '3 GiB', '100 MiB']);
  });

  it('formats rates in decimal units, as links are quoted', () => {
    expect([formatRate(100e6), formatRate(2.01e9), formatRate(950)]).toEqual(['100 MB/s', '2.01 GB/s', '950 B/s']);
  });

  it('formats durations from microseconds to days', () => {
    expect([formatDuration(0.25), formatDuration(850), formatDuration(12_345), formatDuration(245_000), formatDuration(7_380_000), formatDuration(3 * 86_400_000)]).toEqual([
      '250 us',
      '850 ms',
      '12.3 s',
      '4 min 05 s',
      '2 h 03 min',
      '3 days',
    ]);
  });
});

describe('parseNumber', () => {
  it('reads plain decimals', () => {
    expect(parseNumber('12.5', '--per-shard-overhead-ms')).toBe(12.5);
    expect(parseNumber(' 0 ', '--per-shard-overhead-ms')).toBe(0);
  });

  it.each(['0x10', '0b11', '1e2', '', '.5', '5.', 'NaN', 'Infinity', '-1'])('refuses %j, naming the option', (text) => {
    expect(() => parseNumber(text, '--per-shard-overhead-ms')).toThrow(/^--per-shard-overhead-ms: .* is not a number of at least 0$/);
  });
});
