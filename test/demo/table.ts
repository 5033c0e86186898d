/** Plain-text tables for the terminal: columns padded to their widest cell, numbers right-aligned. */

export type Cell = string | number;

function isNumeric(cell: Cell): boolean {
  return typeof cell === 'number' || /^[-+]?[\d.,]+(\s?[%a-zA-Z/]+)?$/.test(cell);
}

export function renderTable(header: readonly string[], rows: ReadonlyArray<readonly Cell[]>): string {
  const all = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly Cell[], alignNumbers: boolean) =>
    cells
      .map((c, i) => {
        const s = String(c);
        const w = widths[i] ?? s.length;
        return alignNumbers && isNumeric(c) ? s.padStart(w) : s.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  return [line(header, false), ...rows.map((r) => line(r, true))].join('\n');
}
