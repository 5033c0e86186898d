import { InvalidArgumentError } from './errors.js';

/**
 * Human units for options and output. Sizes accept decimal (kB, MB, GB, TB: powers of 1000) and
 * binary (KiB, MiB, GiB, TiB: powers of 1024) units; a bare number is bytes. Rates are a size per
 * second, where an upper-case `B` means bytes and a lower-case `b` or `bit` means bits
 * (`100MB/s`, `800Mbit/s`, `1Gbps`). Durations need a unit (`us`, `ms`, `s`, `min`, `h`), since a
 * bare `100` could mean anything.
 */

const PREFIXES: Readonly<Record<string, number>> = {
  '': 1,
  k: 1e3,
  m: 1e6,
  g: 1e9,
  t: 1e12,
  p: 1e15,
  ki: 2 ** 10,
  mi: 2 ** 20,
  gi: 2 ** 30,
  ti: 2 ** 40,
  pi: 2 ** 50,
};

const NUMBER = String.raw`(\d+(?:\.\d+)?|\.\d+)`;
const SIZE = new RegExp(String.raw`^${NUMBER}\s*(?:([kmgtp]i?)?(b|bytes?)?)$`, 'i');
const RATE = new RegExp(String.raw`^${NUMBER}\s*([kmgtp]i?)?(B|b|bits?|bytes?)(?:\/s|ps|\/sec)$`, 'i');
const DURATION = new RegExp(String.raw`^${NUMBER}\s*(us|µs|ms|s|sec|m|min|h|d)$`, 'i');

const DURATION_MS: Readonly<Record<string, number>> = { us: 1e-3, µs: 1e-3, ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a size such as `10MiB`, `1.5 GiB`, `500MB` or `4096` (bytes) into whole bytes. */
export function parseSize(text: string, option = 'size'): number {
  const trimmed = text.trim();
  const match = SIZE.exec(trimmed);
  // A bare prefix (`10M`, `1G`) could mean MB or MiB: refuse rather than guess.
  if (match === null || (match[2] !== undefined && match[3] === undefined)) {
    throw new InvalidArgumentError(option, `${JSON.stringify(text)} is not a size; write a number and a unit, e.g. 10MiB, 1GiB, 500MB or 4096 (bytes)`);
  }
  const value = Number(match[1]) * (PREFIXES[(match[2] ?? '').toLowerCase()] ?? 1);
  const bytes = Math.round(value);
  if (!Number.isSafeInteger(bytes)) throw new InvalidArgumentError(option, `${JSON.stringify(text)} is too large`);
  return bytes;
}

/** Parses a rate such as `100MB/s`, `1GiB/s`, `800Mbit/s` or `1Gbps` into bytes per second. */
export function parseRate(text: string, option = 'rate'): number {
  const trimmed = text.trim();
  const match = RATE.exec(trimmed);
  if (match === null) {
    throw new InvalidArgumentError(
      option,
      `${JSON.stringify(text)} is not a rate; write a size per second, e.g. 100MB/s, 1GiB/s, 800Mbit/s or 1Gbps (B = bytes, b = bits)`,
    );
  }
  const unit = match[3] ?? 'B';
  const bits = unit === 'b' || unit.toLowerCase().startsWith('bit');
  const bytesPerSecond = (Number(match[1]) * (PREFIXES[(match[2] ?? '').toLowerCase()] ?? 1)) / (bits ? 8 : 1);
  if (!Number.isFinite(bytesPerSecond)) throw new InvalidArgumentError(option, `${JSON.stringify(text)} is too large`);
  return bytesPerSecond;
}

/** Parses a duration such as `100ms`, `0.5s`, `2min`, `1h` or `7d` into milliseconds. */
export function parseDuration(text: string, option = 'duration'): number {
  const trimmed = text.trim();
  const match = DURATION.exec(trimmed);
  if (match === null) {
    const bare = /^\d+(\.\d+)?$/.test(trimmed) ? `; add a unit, e.g. ${trimmed}ms or ${trimmed}s` : '; write a number and a unit: us, ms, s, min, h or d, e.g. 100ms';
    throw new InvalidArgumentError(option, `${JSON.stringify(text)} is not a duration${bare}`);
  }
  return Number(match[1]) * (DURATION_MS[(match[2] ?? 'ms').toLowerCase()] ?? 1);
}

/** Parses a whole number within bounds, e.g. a `--limit` or `--concurrency`. */
export function parseInteger(text: string, option: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const trimmed = text.trim();
  if (!/^-?\d+$/.test(trimmed)) throw new InvalidArgumentError(option, `${JSON.stringify(text)} is not a whole number`);
  const value = Number(trimmed);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(option, `${max === Number.MAX_SAFE_INTEGER ? `must be at least ${min}` : `must be from ${min} to ${max}`}, got ${trimmed}`);
  }
  return value;
}

/** Parses a non-negative number (fractions allowed), e.g. `--per-shard-overhead-ms 12.5`. */
export function parseNumber(text: string, option: string, min = 0): number {
  const trimmed = text.trim();
  const value = Number(trimmed);
  // Plain decimals only: Number() also reads 0x10, 0b11 and 1e2, which nobody means as a figure.
  if (!/^-?\d+(\.\d+)?$/.test(trimmed) || !Number.isFinite(value) || value < min) {
    throw new InvalidArgumentError(option, `${JSON.stringify(text)} is not a number of at least ${min}`);
  }
  return value;
}

/** `toFixed`, without trailing zeros after the decimal point (`1.50` -> `1.5`, `100` stays). */
function trimZeros(value: number, digits: number): string {
  const fixed = value.toFixed(digits);
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

/** `1073741824` -> `1 GiB`, `1536` -> `1.5 KiB`: binary units, at most three significant digits. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${trimZeros(value, value >= 100 || unit === 0 ? 0 : value >= 10 ? 1 : 2)} ${units[unit] ?? 'B'}`;
}

/** Bytes per second in decimal units, as link speeds are quoted: `100 MB/s`. */
export function formatRate(bytesPerSecond: number): string {
  const units = ['B/s', 'kB/s', 'MB/s', 'GB/s', 'TB/s'];
  let value = bytesPerSecond;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${trimZeros(value, value >= 100 ? 0 : value >= 10 ? 1 : 2)} ${units[unit] ?? 'B/s'}`;
}

/** `850` -> `850 ms`, `12345` -> `12.3 s`, `245000` -> `4 min 05 s`, `7380000` -> `2 h 03 min`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 1) return `${trimZeros(ms * 1000, 0)} us`;
  if (ms < 1000) return `${trimZeros(ms, ms < 10 ? 2 : 0)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${trimZeros(seconds, seconds < 10 ? 2 : 1)} s`;
  const totalSeconds = Math.round(seconds);
  if (totalSeconds < 3600) return `${Math.floor(totalSeconds / 60)} min ${String(totalSeconds % 60).padStart(2, '0')} s`;
  const totalMinutes = Math.round(totalSeconds / 60);
  if (totalMinutes < 48 * 60) return `${Math.floor(totalMinutes / 60)} h ${String(totalMinutes % 60).padStart(2, '0')} min`;
  return `${trimZeros(totalMinutes / 1440, 1)} days`;
}

/** `1234567` -> `1,234,567`. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
