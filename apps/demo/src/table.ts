/** Renders the demo rows as a plain-text table. */
import type { Row } from './scenario.js';

const COLUMNS: { key: keyof Row; title: string }[] = [
  { key: 'service', title: 'service' },
  { key: 'check', title: 'check' },
  { key: 'proof', title: 'proof' },
  { key: 'expected', title: 'expected' },
  { key: 'got', title: 'got' },
];

export function renderTable(rows: readonly Row[]): string {
  const cells = rows.map((r) => [...COLUMNS.map((c) => String(r[c.key])), r.ok ? 'ok' : 'FAIL']);
  const header = [...COLUMNS.map((c) => c.title), 'verdict'];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  const rule = widths.map((w) => '─'.repeat(w)).join('  ');
  return [line(header), rule, ...cells.map(line)].join('\n');
}
