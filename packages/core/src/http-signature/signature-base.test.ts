/** RFC 9421 §2.1 field values in the signature base: trimmed, obs-fold replaced, repeated lines joined. */
import { describe, expect, it } from 'vitest';
import { signatureBase } from './signature-base.js';

const covers = (name: string) => [{ name, req: false }];
const line = (headers: Record<string, string | string[]>, name = 'x-example') =>
  signatureBase(covers(name), '("x-example")', { headers }).split('\n')[0];

describe('field values (RFC 9421 §2.1)', () => {
  it('trims a single line', () => {
    expect(line({ 'x-example': '  value  ' })).toBe('"x-example": value');
  });
  it('replaces obsolete line folding with one space', () => {
    expect(line({ 'x-example': 'a,\r\n    b,\n\tc' })).toBe('"x-example": a, b, c');
  });
  it('joins repeated lines with ", ", each trimmed and unfolded', () => {
    expect(line({ 'x-example': [' one ', 'two\r\n three'] })).toBe('"x-example": one, two three');
  });
});
