import { firstControlCharacter } from '@shardsync/events';
import type { DatacenterCounts, PassReport } from './report.js';

const COLUMNS: ReadonlyArray<[header: string, field: keyof Omit<DatacenterCounts, 'datacenter'>]> = [
  ['scanned', 'scanned'],
  ['tombstones', 'tombstones'],
  ['equal', 'equal'],
  ['missing', 'missing'],
  ['stale', 'stale'],
  ['corrupt', 'corrupt'],
  ['should-delete', 'shouldBeDeleted'],
  ['unmanaged', 'unmanaged'],
  ['repaired', 'repaired'],
  ['failed', 'failed'],
  ['left', 'notRepaired'],
];

/** Bytes as a short human-readable size (binary units). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Milliseconds as a short duration, e.g. `850 ms`, `12.3 s`, `4 min 05 s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')} s`;
}

/**
 * The report as a plain-text table for terminals and runbooks: one row per datacenter plus a
 * total, a line saying how the counts add up, then one line of cost, the verdict, and the first
 * failures and divergent keys.
 */
export function renderPassReport(report: PassReport, options: { maxKeys?: number } = {}): string {
  const maxKeys = options.maxKeys ?? 20;
  const mode = [report.deep ? 'deep' : 'routine', report.dryRun ? 'dry run' : undefined].filter(Boolean).join(', ');
  const lines: string[] = [];
  lines.push(`reconcile pass ${report.passId}`);
  lines.push(`dataset ${report.dataset}${report.prefix === '' ? '' : ` (prefix ${JSON.stringify(report.prefix)})`} · ${mode} · ${report.startedAt}`);
  lines.push('');
  const header = ['datacenter', ...COLUMNS.map(([h]) => h)];
  const rows = [
    ...report.perDatacenter.map((c) => [c.datacenter + (report.targets.includes(c.datacenter) ? '' : ' (read only)'), ...COLUMNS.map(([, f]) => String(c[f]))]),
    ['total', ...COLUMNS.map(([, f]) => String(report.totals[f]))],
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const format = (cells: readonly string[]): string => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  lines.push(format(header));
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows.slice(0, -1)) lines.push(format(row));
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  lines.push(format(rows[rows.length - 1] ?? []));
  lines.push('scanned = keys listed, tombstones included = equal + stale + corrupt + should-delete + unmanaged; missing: not listed');
  lines.push('');
  const perKey = report.divergentKeys === 0 ? '' : ` (${report.requestsPerDivergentKey.toFixed(1)} per divergent key)`;
  const deep = report.deep ? ` · re-read ${formatBytes(report.totals.deepBytes)} in ${report.totals.deepObjects} objects` : '';
  lines.push(
    `${report.divergentKeys} divergent key${report.divergentKeys === 1 ? '' : 's'} · ${formatBytes(report.bytesMoved)} moved · ${report.requests.total} requests beyond listing${perKey}${deep} · ${formatDuration(report.durationMs)}`,
  );
  lines.push(
    report.converged
      ? 'result: the datacenters agree'
      : `result: ${report.remaining} divergent ${report.remaining === 1 ? 'copy remains' : 'copies remain'}${report.dryRun ? ' (dry run: nothing was changed)' : ''}`,
  );
  if (report.failures.length > 0) {
    lines.push('');
    lines.push('failures:');
    for (const f of report.failures.slice(0, maxKeys)) lines.push(`  ${f.datacenter}  ${displayKey(f.key)}  ${f.code}: ${f.message}`);
  }
  const divergent = report.keys.slice(0, maxKeys);
  if (divergent.length > 0) {
    lines.push('');
    lines.push('divergent keys:');
    for (const k of divergent) {
      const copies = Object.entries(k.copies)
        .filter(([, c]) => c.status !== 'equal')
        .map(([dc, c]) => `${dc}=${c.status}${c.result === undefined ? '' : `/${c.result}`}`)
        .join(' ');
      const winner = k.winner === undefined ? 'no version anywhere' : `${k.winner.kind} ${k.winner.version}`;
      lines.push(`  ${displayKey(k.key)}  [${winner}]  ${copies}`);
    }
    const more = report.divergentKeys - divergent.length;
    if (more > 0) lines.push(`  ... and ${more} more (see --json)`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A key as the report prints it: as it is, unless it holds a control character (a key written by
 * another tool: S3 allows them), which would be invisible in the report or act on the terminal;
 * such a key is printed as a JSON string, quoted and escaped.
 */
export function displayKey(key: string): string {
  return firstControlCharacter(key) >= 0 ? JSON.stringify(key) : key;
}
