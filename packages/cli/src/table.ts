/** A column of a text table: its header, and whether its cells line up on the right (numbers). */
export interface Column {
  readonly header: string;
  readonly align?: 'left' | 'right' | undefined;
}

/** Visible width of a cell: code points, so `µ` or `é` count as one. */
function width(text: string): number {
  return [...text].length;
}

function pad(text: string, size: number, align: 'left' | 'right'): string {
  const gap = ' '.repeat(Math.max(0, size - width(text)));
  return align === 'right' ? gap + text : text + gap;
}

/**
 * Renders rows as a plain-text table: a header, a rule, then one line per row, columns separated
 * by two spaces, no trailing spaces. Cells are strings already formatted by the caller.
 */
export function renderTable(columns: readonly Column[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = columns.map((c, i) => Math.max(width(c.header), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: readonly string[]) =>
    columns
      .map((c, i) => pad(cells[i] ?? '', widths[i] ?? 0, c.align ?? 'left'))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Renders `label: value` lines with the values aligned. */
export function renderFields(fields: ReadonlyArray<readonly [string, string]>): string {
  const size = Math.max(0, ...fields.map(([label]) => width(label)));
  return fields.map(([label, value]) => `${pad(`${label}:`, size + 1, 'left')} ${value}`.trimEnd()).join('\n');
}
