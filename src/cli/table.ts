// Plain-text tables the way kubectl prints them: upper-case headers, left-aligned columns, three spaces between.

const GAP = '   ';

/** Column widths that fit every cell of `rows` (header included). */
export function columnWidths(rows: readonly (readonly string[])[]): number[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return widths;
}

/** One padded line (no trailing spaces); cells wider than their column push the rest right, as tabwriter does. */
export function formatRow(cells: readonly string[], widths: readonly number[]): string {
  const last = cells.length - 1;
  return cells.map((c, i) => (i === last ? c : c.padEnd(widths[i] ?? c.length))).join(GAP).trimEnd();
}

/** Renders header + rows, one line each, every line ending in a newline. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = columnWidths([header, ...rows]);
  return [header, ...rows].map((r) => formatRow(r, widths) + '\n').join('');
}
