/** Byte sizes and durations as people type them (`200MiB`, `1.5GB`, `90s`, `2m`), and back. */

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
};

/** `200MiB` -> 209715200. Decimal units (MB) are powers of 1000, binary ones (MiB, M) of 1024. */
export function parseBytes(text: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m?.[2]?.toLowerCase() ?? '';
  const factor = SIZE_UNITS[unit];
  if (m === null || factor === undefined) throw new Error(`${what} "${text}" is not a size; write e.g. 200MiB, 1GiB, 512KiB or 1.5GB`);
  const n = Math.round(Number(m[1]) * factor);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${what} "${text}" must be a positive size`);
  return n;
}

const DURATION_UNITS: Record<string, number> = { '': 1000, ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/** `90s` -> 90000 (milliseconds). A bare number is seconds. */
export function parseDurationMs(text: string, what = 'duration'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const factor = DURATION_UNITS[m?.[2]?.toLowerCase() ?? ''];
  if (m === null || factor === undefined) throw new Error(`${what} "${text}" is not a duration; write e.g. 90s, 2m or 500ms`);
  const n = Math.round(Number(m[1]) * factor);
  if (n <= 0) throw new Error(`${what} "${text}" must be positive`);
  return n;
}

/** 209715200 -> `200.0 MiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** Seconds with a sensible precision: `0.42 s`, `12.3 s`, `2m05s`. */
export function formatSeconds(ms: number): string {
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 120) return `${s.toFixed(1)} s`;
  const whole = Math.round(s);
  return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
}

/** Bytes per second as `123.4 MiB/s`. */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`;
}
