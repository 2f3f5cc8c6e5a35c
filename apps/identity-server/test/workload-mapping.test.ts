import { describe, expect, it } from 'vitest';
import { compileMappingRules } from '../src/workload-mapping.js';

const K8S = 'https://k8s.test';
const map = compileMappingRules(
  [
    { issuer: K8S, match: { sub: 'system:serviceaccount:(?<ns>[^:]+):(?<sa>[^:]+)' }, workload: 'spiffe://example.org/ns/{ns}/sa/{sa}' },
    { issuer: 'https://other.test', match: { sub: '(?<name>.+)', team: 'payments' }, workload: 'wimse://example.org/team/payments/{name}' },
  ],
  'example.org',
);

describe('mapping rules: a match', () => {
  it('fills the template from the named groups', () => {
    expect(map(K8S, { sub: 'system:serviceaccount:prod:api' })).toEqual({ ok: true, workload: 'spiffe://example.org/ns/prod/sa/api' });
  });
  it('needs every claim of the rule to match', () => {
    expect(map('https://other.test', { sub: 'ledger', team: 'payments' })).toEqual({
      ok: true,
      workload: 'wimse://example.org/team/payments/ledger',
    });
    expect(map('https://other.test', { sub: 'ledger', team: 'payments-admin' }).ok).toBe(false);
  });
});

describe('mapping rules: refusals', () => {
  const refused: Array<[string, string, Record<string, unknown>]> = [
    ['another issuer', 'https://rogue.test', { sub: 'system:serviceaccount:prod:api' }],
    ['a pattern that only matches part of the claim', K8S, { sub: 'x-system:serviceaccount:prod:api' }],
    ['a claim that is not a string', K8S, { sub: ['system:serviceaccount:prod:api'] }],
    ['a dot segment from a claim', K8S, { sub: 'system:serviceaccount:..:api' }],
    ['a slash from a claim (an extra path segment)', K8S, { sub: 'system:serviceaccount:prod/admin:api' }],
    ['percent-encoding from a claim', K8S, { sub: 'system:serviceaccount:prod%2Fadmin:api' }],
    ['a query from a claim', K8S, { sub: 'system:serviceaccount:prod:api?x=1' }],
    ['a missing claim', K8S, {}],
  ];
  it.each(refused)('refuses %s', (_name, issuer, claims) => {
    expect(map(issuer, claims).ok).toBe(false);
  });
});
