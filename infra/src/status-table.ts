import type { StackStatus } from './stack.js';

/** Renders rows as left-aligned columns separated by two spaces. */
export function renderColumns(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n');
}

/** The human `status` output: one row per server, then a summary line. */
export function formatStatusTable(status: StackStatus): string {
  const rows = [['SERVER', 'STATE', 'ADDRESS', 'PID', 'DETAIL']];
  for (const s of status.servers) {
    // 'unhealthy' says so itself; another state of a server that fails its check gets it added.
    const address = s.kind === 's3' ? `${s.address} (bucket ${status.datacenters.find((d) => d.name === s.name)?.bucket ?? '?'})` : s.address;
    rows.push([s.name, s.healthy || s.state === 'stopped' || s.state === 'unhealthy' ? s.state : `${s.state} (unhealthy)`, address, s.pid === null ? '-' : String(s.pid), s.detail ?? '']);
  }
  const bad = status.servers.filter((s) => !s.healthy).map((s) => s.name);
  // Starting cannot help a server whose port another program holds: that one must be freed first.
  const taken = status.servers.filter((s) => s.state === 'port-taken').map((s) => s.name);
  const hint = taken.length > 0 ? `free the port of ${taken.join(', ')} (another program holds it) or move the stack to other ports, then \`npm run stack:up\`` : 'start with `npm run stack:up`';
  const summary = bad.length === 0 ? 'all servers healthy' : `not healthy: ${bad.join(', ')} (${hint}; logs in ${status.stateDir}/logs)`;
  return `${renderColumns(rows)}\n\nkafka ${status.kafka.version}, state in ${status.stateDir}\n${summary}`;
}
