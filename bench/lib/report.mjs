// Tables of results, for the terminal and as Markdown, and the machine they were measured on.
import { cpus } from 'node:os';

/** Aligned plain-text table: `headers` is a list of titles, `rows` lists of cells (strings). */
export function textTable(headers, rows) {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => row[i].length)));
  const line = (cells) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  return [line(headers), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

/** Markdown table, numbers right-aligned, padded as prettier would (so `npm run format` leaves it alone). */
export function markdownTable(headers, rows) {
  const widths = headers.map((header, i) => Math.max(3, header.length, ...rows.map((row) => row[i].length)));
  const line = (cells) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(' | ')} |`;
  const rule = `| ${widths.map((width, i) => (i === 0 ? '-'.repeat(width) : `${'-'.repeat(width - 1)}:`)).join(' | ')} |`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

/** Formats a number with `digits` decimals ('—' for NaN). */
export function fixed(value, digits) {
  return Number.isFinite(value) ? value.toFixed(digits) : '—';
}

/** One line saying where the figures come from. */
export function machineLine() {
  const list = cpus();
  return `${list.length} × ${list[0]?.model?.trim() ?? 'unknown CPU'}, Node ${process.version}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
