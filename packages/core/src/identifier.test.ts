import { describe, expect, it } from 'vitest';
import {
  MAX_IDENTIFIER_LENGTH,
  checkIdentifier,
  checkWorkloadIdentifier,
  parseWorkloadIdentifier,
  sameWorkload,
  workloadOrigin,
} from './identifier.js';
import { compileWorkloadPattern, compileWorkloadPatterns } from './workload-pattern.js';
import { vector } from './test-support/vectors.js';

interface Examples {
  from_draft: {
    valid_workload_identifiers: { value: string }[];
    origins: { value: string }[];
    canonical_wimse_collision_example: { a: string; b: string };
  };
  derived_negative: { value: string; reason: string; generic_rule?: boolean; canonical_wimse?: boolean }[];
  comparison: { pairs: { a: string; b: string; equal: boolean }[] };
}
const ex = vector<Examples>('identifier-examples');

describe('identifier-03 §4: identifiers printed in the drafts', () => {
  it.each(ex.from_draft.valid_workload_identifiers.map((v) => v.value))('accepts %s', (value) => {
    const r = checkWorkloadIdentifier(value);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.id.value).toBe(value);
      expect(r.id.trustDomain).toBe(value.split('/')[2]);
    }
  });

  it.each(ex.from_draft.origins.map((v) => v.value))('%s is an Origin (§4.6), not a workload identifier', (value) => {
    expect(checkWorkloadIdentifier(value).ok).toBe(false);
    expect(compileWorkloadPattern(value).test(parseWorkloadIdentifier(`${value}/x`))).toBe(true);
  });

  it('rejects the percent-encoded twin and never repairs it (§7.1)', () => {
    const { a, b } = ex.from_draft.canonical_wimse_collision_example;
    expect(checkWorkloadIdentifier(a).ok).toBe(true);
    expect(checkWorkloadIdentifier(b).ok).toBe(false);
  });
});

describe('identifier-03 §4.1: generic rules', () => {
  const generic = ex.derived_negative.filter((n) => n.generic_rule);
  it.each(generic.map((n) => [n.value, n.reason]))('rejects %s (%s) in canonical mode', (value) => {
    expect(checkWorkloadIdentifier(value).ok).toBe(false);
  });
  it.each(generic.map((n) => [n.value, n.reason]))('rejects %s (%s) without canonical rules too', (value) => {
    expect(checkWorkloadIdentifier(value, { canonical: false }).ok).toBe(false);
  });

  it('accepts an IP trust domain only when legacy naming is allowed', () => {
    expect(checkWorkloadIdentifier('wimse://10.1.2.3/svc', { allowIpTrustDomain: true }).ok).toBe(true);
  });

  it(`accepts ${MAX_IDENTIFIER_LENGTH} octets and rejects one more`, () => {
    const base = 'spiffe://example.org/';
    const max = base + 'a'.repeat(MAX_IDENTIFIER_LENGTH - base.length);
    expect(checkWorkloadIdentifier(max).ok).toBe(true);
    expect(checkWorkloadIdentifier(`${max}a`).ok).toBe(false);
  });

  it.each([
    ['https://example.org/svc', 'scheme not accepted by default'],
    ['spiffe://Example.org/svc', 'SPIFFE trust domains are lower case'],
    ['spiffe://example.org/a/../b', 'SPIFFE forbids dot segments'],
    ['spiffe://example.org/a%20b', 'SPIFFE forbids percent-encoding'],
    ['spiffe://example.org/svc/', 'SPIFFE forbids a trailing slash'],
    ['spiffe:example.org/svc', 'no authority'],
    ['', 'empty'],
  ])('rejects %s (%s)', (value) => {
    expect(checkWorkloadIdentifier(value).ok).toBe(false);
  });

  it('rejects non-strings', () => {
    expect(checkWorkloadIdentifier(42).ok).toBe(false);
    expect(checkWorkloadIdentifier(['spiffe://example.org/a']).ok).toBe(false);
  });

  it('accepts other schemes when configured', () => {
    expect(checkWorkloadIdentifier('https://example.org/svc', { schemes: ['https'] }).ok).toBe(true);
  });
});

describe("identifier editor's copy §4.4: canonical wimse rules", () => {
  const canonical = ex.derived_negative.filter((n) => n.canonical_wimse);
  it.each(canonical.map((n) => [n.value, n.reason]))('rejects %s (%s)', (value) => {
    expect(checkWorkloadIdentifier(value).ok).toBe(false);
  });
});

describe('identifier-03 §4.3: comparison on the complete URI', () => {
  it.each(ex.comparison.pairs.map((p) => [p.a, p.b, p.equal]))('%s vs %s → equal %s', (a, b, equal) => {
    expect(sameWorkload(a, b)).toBe(equal);
  });
  it('builds the Origin', () => {
    expect(workloadOrigin(parseWorkloadIdentifier('spiffe://example.org/a/b'))).toBe('spiffe://example.org');
  });
  it('parseWorkloadIdentifier throws with the reason', () => {
    expect(() => parseWorkloadIdentifier('wimse://example.com/svc?x=1')).toThrow(/query/);
  });
});

describe('workload patterns', () => {
  const id = (v: string) => parseWorkloadIdentifier(v);
  it('exact', () => {
    const m = compileWorkloadPattern('spiffe://example.org/admin');
    expect(m.test(id('spiffe://example.org/admin'))).toBe(true);
    expect(m.test(id('spiffe://example.org/admin2'))).toBe(false);
    expect(m.test(id('spiffe://other.org/admin'))).toBe(false);
  });
  it('path prefix matches whole segments only', () => {
    const m = compileWorkloadPattern('spiffe://example.org/ns/prod/*');
    expect(m.test(id('spiffe://example.org/ns/prod/api'))).toBe(true);
    expect(m.test(id('spiffe://example.org/ns/production/api'))).toBe(false);
    expect(m.test(id('spiffe://example.org/ns/prod'))).toBe(false);
  });
  it('trust domain is scheme-specific', () => {
    const m = compileWorkloadPattern('spiffe://example.org');
    expect(m.test(id('spiffe://example.org/x'))).toBe(true);
    expect(m.test(id('wimse://example.org/x'))).toBe(false);
  });
  it('several patterns', () => {
    const m = compileWorkloadPatterns(['spiffe://a.org/x', 'spiffe://b.org']);
    expect(m.test(id('spiffe://b.org/y'))).toBe(true);
    expect(m.test(id('spiffe://a.org/y'))).toBe(false);
  });
  it('rejects malformed patterns at compile time', () => {
    expect(() => compileWorkloadPattern('spiffe://example.org/a?b')).toThrow(TypeError);
    expect(() => compileWorkloadPattern('not a uri/*')).toThrow(TypeError);
  });
});

describe('SPIFFE-ID §2: a trust-domain-only SPIFFE ID is an identifier that names no workload', () => {
  it('is a valid identifier with an empty path', () => {
    const r = checkIdentifier('spiffe://prod.example');
    expect(r).toEqual({ ok: true, id: { value: 'spiffe://prod.example', scheme: 'spiffe', trustDomain: 'prod.example', path: '' } });
  });

  it('cannot name a workload (X509-SVID §3.1: a leaf SPIFFE ID has a non-root path), and the reason says why', () => {
    const r = checkWorkloadIdentifier('spiffe://prod.example');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain('names the trust domain prod.example, not a workload');
  });

  it('a trailing slash is still refused (SPIFFE-ID §2.2)', () => {
    expect(checkIdentifier('spiffe://prod.example/').ok).toBe(false);
  });

  it('an upper-case trust domain is still refused', () => {
    expect(checkIdentifier('spiffe://Prod.example').ok).toBe(false);
  });

  it('as a pattern it matches every workload of its trust domain and no other', () => {
    const m = compileWorkloadPattern('spiffe://prod.example');
    expect(m.test(parseWorkloadIdentifier('spiffe://prod.example/a/b'))).toBe(true);
    expect(m.test(parseWorkloadIdentifier('spiffe://prod.example.evil/a'))).toBe(false);
    expect(m.test(parseWorkloadIdentifier('wimse://prod.example/a'))).toBe(false);
  });
});

describe('identifier-03 §4.1 + RFC 3986 §2: the non-canonical wimse mode still keeps the URI grammar', () => {
  const loose = { canonical: false };
  it('accepts well-formed percent-encoding and sub-delims', () => {
    expect(checkWorkloadIdentifier('wimse://td.example/a%41/b!c', loose).ok).toBe(true);
  });
  it.each([
    ['wimse://td.example/a%zz', 'malformed percent-encoding'],
    ['wimse://td.example/a%4', 'malformed percent-encoding'],
    ['wimse://td.example/a%', 'malformed percent-encoding'],
    ['wimse://td%zz.example/a', 'malformed percent-encoding'],
  ])('rejects %s (%s)', (value, reason) => {
    expect(checkWorkloadIdentifier(value, loose)).toEqual({ ok: false, reason });
  });
  it.each([
    'wimse://td.example/a b',
    'wimse://td.example/a<b',
    'wimse://td.example/a"b',
    'wimse://td.example/a|b',
    'wimse://td.example/a\\b',
    'wimse://td.example/a^b',
    'wimse://td.example/a`b',
    'wimse://td.example/a{b}',
    'wimse://td.example/caf\u00e9',
    'wimse://td.example/a\tb',
  ])('rejects %j (outside the URI grammar)', (value) => {
    expect(checkWorkloadIdentifier(value, loose)).toEqual({ ok: false, reason: 'characters outside the URI grammar (RFC 3986)' });
  });
  it('the same grammar applies to another configured scheme', () => {
    expect(checkWorkloadIdentifier('urn-ish://td.example/a%zz', { schemes: ['urn-ish'] }).ok).toBe(false);
    expect(checkWorkloadIdentifier('urn-ish://td.example/a', { schemes: ['urn-ish'] }).ok).toBe(true);
  });
});
