/**
 * Renders the demo rows as a plain-text table no wider than the terminal (100 columns when the
 * output is not a terminal): rows grouped under their service, one result column that shows
 * what was observed (and what was expected, when they differ), long cells wrapped on spaces.
 */
import type { Row } from './scenario.js';

/** Width used when stdout is not a terminal (CI logs, pipes). */
export const DEFAULT_WIDTH = 100;
const INDENT = '  ';
const GAP = '  ';
// Narrowest a wrapped column gets; below that the table overflows rather than becoming unreadable.
const MIN_WRAPPED = 12;

/** The width to render for: the terminal's, or {@link DEFAULT_WIDTH} when not writing to one. */
export function outputWidth(stream: { isTTY?: boolean; columns?: number } = process.stdout): number {
  return stream.isTTY === true && typeof stream.columns === 'number' && stream.columns > 0 ? stream.columns : DEFAULT_WIDTH;
}

export function renderTable(rows: readonly Row[], width: number = outputWidth()): string {
  const header = ['check', 'proof', '', 'result'];
  const cells = rows.map((r) => [r.check, r.proof, r.ok ? 'ok' : 'FAIL', r.ok ? r.got : `${r.got} (expected ${r.expected})`]);
  const widths = fit(
    header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length))),
    width - INDENT.length,
    [0, 3],
  );
  const lines = [INDENT + pad(header, widths), INDENT + widths.map((w) => '─'.repeat(w)).join(GAP)];
  let service: string | undefined;
  rows.forEach((r, i) => {
    if (r.service !== service) lines.push((service = r.service));
    const wrapped = cells[i]!.map((c, j) => wrap(c, widths[j]!));
    const height = Math.max(...wrapped.map((w) => w.length));
    for (let k = 0; k < height; k++)
      lines.push(
        INDENT +
          pad(
            wrapped.map((w) => w[k] ?? ''),
            widths,
          ),
      );
  });
  return lines.join('\n');
}

function pad(values: readonly string[], widths: readonly number[]): string {
  return values
    .map((v, i) => v.padEnd(widths[i]!))
    .join(GAP)
    .trimEnd();
}

// Narrows the widest of the `wrappable` columns, one character at a time, until the row fits.
function fit(natural: number[], width: number, wrappable: number[]): number[] {
  const widths = [...natural];
  const total = () => widths.reduce((a, b) => a + b, 0) + GAP.length * (widths.length - 1);
  while (total() > width) {
    const widest = wrappable.reduce((a, b) => (widths[b]! > widths[a]! ? b : a));
    if (widths[widest]! <= MIN_WRAPPED) break;
    widths[widest]! -= 1;
  }
  return widths;
}

/** Splits `text` into lines of at most `width` characters, at spaces where possible. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const candidate = line === '' ? word : `${line} ${word}`;
    if (candidate.length <= width) {
      line = candidate;
      continue;
    }
    if (line !== '') lines.push(line);
    line = word;
    while (line.length > width) {
      lines.push(line.slice(0, width));
      line = line.slice(width);
    }
  }
  lines.push(line);
  return lines;
}
