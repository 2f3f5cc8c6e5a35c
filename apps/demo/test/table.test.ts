/**
 * The `pnpm demo` table fits the terminal it is printed to (100 columns when not a terminal) and
 * never drops a word of a check or a result.
 */
import { describe, expect, it } from 'vitest';
import type { Row } from '../src/scenario.js';
import { outputWidth, renderTable, wrap } from '../src/table.js';

// The longest cells the demo prints (from its README table).
const ROWS: Row[] = [
  ['express', 'GET /whoami', 'WPT', '200 client (wpt)'],
  ['express', 'certificate from the other.example CA', 'mTLS', '400 mtls_untrusted_domain'],
  ['express→…→nestjs', 'relay chain with a Txn-Token', 'HTTP-Sig', '200 client→express→fastify→hono→nestjs +txn'],
  ['all four', 'example.org identity from the other.example CA', 'mTLS', '400 mtls_untrusted ×4'],
  ['identity server', 'rotate: publish and sign with a new key', '-', '201, 2 keys published'],
  ['all four', 'client that renews when its WIT is refused', 'WPT', '200 ×4'],
].map(([service, check, proof, got]) => ({ service: service!, check: check!, proof: proof!, expected: got!, got: got!, ok: true }));

const FAILED: Row = {
  service: 'hono',
  check: 'body changed after signing',
  proof: 'HTTP-Sig',
  expected: '400 digest_mismatch',
  got: '200 body echoed',
  ok: false,
};

const columns = (line: string) => [...line].length;
const words = (text: string) => text.split(/\s+/).filter((w) => w !== '');

describe('the table fits the width it is given', () => {
  for (const width of [100, 80, 60]) {
    it(`${width} columns`, () => {
      const lines = renderTable([...ROWS, FAILED], width).split('\n');
      expect(lines.filter((l) => columns(l) > width)).toEqual([]);
    });
  }

  it('a wide terminal gets one line per row', () => {
    const table = renderTable(ROWS, 200);
    // header, rule, then a line each time the service changes and a line per row
    const groups = ROWS.filter((r, i) => r.service !== ROWS[i - 1]?.service).length;
    expect(groups).toBe(5);
    expect(table.split('\n')).toHaveLength(2 + groups + ROWS.length);
  });
});

describe('no word of a check or result is lost', () => {
  it('every word of every cell is in the 100-column table', () => {
    const table = words(renderTable(ROWS, 100));
    for (const r of ROWS) for (const w of words(`${r.service} ${r.check} ${r.proof} ${r.got}`)) expect(table, w).toContain(w);
  });

  it('wrap() splits at spaces and cuts only words longer than the column', () => {
    expect(wrap('200 client→express→fastify→hono→nestjs +txn', 20)).toEqual(['200', 'client→express→fasti', 'fy→hono→nestjs +txn']);
    expect(wrap('GET /whoami over mTLS', 12)).toEqual(['GET /whoami', 'over mTLS']);
  });
});

describe('a row not as expected', () => {
  it('says FAIL and shows both what was observed and what was expected', () => {
    const line = renderTable([FAILED], 200).split('\n').at(-1)!;
    expect(line).toMatch(/FAIL\s+200 body echoed \(expected 400 digest_mismatch\)$/);
  });
});

describe('the width comes from the terminal', () => {
  it('is the terminal width on a terminal', () => {
    expect(outputWidth({ isTTY: true, columns: 80 })).toBe(80);
  });
  it('is 100 when the output is not a terminal (CI, pipes)', () => {
    expect(outputWidth({ isTTY: false })).toBe(100);
    expect(outputWidth({})).toBe(100);
  });
});
